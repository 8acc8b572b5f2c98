"""Pages of the site: dashboard, groups, projects, members, profile. Views stay thin: they
resolve the object for the user (mixins), call a service, and render."""

from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.mixins import LoginRequiredMixin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.db import DatabaseError
from django.db.models import Count, Q, QuerySet, Sum
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.generic import FormView, TemplateView, UpdateView

from tokens_site import services
from tokens_site.access.abilities import Ability
from tokens_site.access.lookups import first_by_id
from tokens_site.access.policy import group_access
from tokens_site.audit import client_ip
from tokens_site.auth.decorators import credential_required
from tokens_site.auth.families import WHOAMI
from tokens_site.dependency_proxy.upstream import cache_size
from tokens_site.forms import (
    GroupForm,
    GroupTwoFactorForm,
    MemberAddForm,
    MemberUpdateForm,
    ProjectForm,
    apply_service_errors,
)
from tokens_site.lookups import CompiledLookup
from tokens_site.mixins import GroupMixin, ProjectMixin
from tokens_site.models import Group, InstanceSettings, Membership, Project
from tokens_site.packages import npm
from tokens_site.packages.models import Package, PackageFile
from tokens_site.packages.services import package_destroy
from tokens_site.paths import record_id
from tokens_site.registry.listing import RegistryUnavailable, project_repositories


class DashboardView(LoginRequiredMixin, TemplateView):
    template_name = "tokens_site/dashboard.html"

    def get_context_data(self, **kwargs):
        user = self.request.user
        return super().get_context_data(
            groups=Group.objects.member_of(user),
            projects=Project.objects.member_of(user).select_related("group"),
            **kwargs,
        )


class ExploreView(TemplateView):
    template_name = "tokens_site/explore.html"

    def get_context_data(self, **kwargs):
        user = self.request.user
        return super().get_context_data(
            groups=Group.objects.visible_to(user).filter(parent=None),
            projects=Project.objects.visible_to(user).select_related("group"),
            **kwargs,
        )


class ProfileView(LoginRequiredMixin, UpdateView):
    """User settings > Profile: the page the avatar menu's "Edit profile" opens."""

    template_name = "tokens_site/profile.html"
    fields = ["first_name", "last_name", "email"]

    def get_object(self, queryset=None):
        return self.request.user

    def form_valid(self, form):
        messages.success(self.request, _("Profile was updated."))
        return super().form_valid(form)

    def get_success_url(self) -> str:
        return reverse("profile")


class GroupCreateView(LoginRequiredMixin, FormView):
    """New top-level group, or a subgroup with `?parent_id=<id>` (Maintainer of the parent)."""

    template_name = "tokens_site/group_new.html"
    form_class = GroupForm

    def dispatch(self, request, *args, **kwargs):
        self.parent = None
        parent_id = request.GET.get("parent_id", "")
        if request.user.is_authenticated and parent_id:
            self.parent = first_by_id(Group.objects.visible_to(request.user), parent_id)
            if self.parent is None:
                raise Http404("There is no such parent group.")
            group_access(request.user, self.parent).require(
                Ability.CREATE_WITHIN,
                _("You need at least the Maintainer role in %(path)s to create subgroups.")
                % {"path": self.parent.full_path},
            )
        return super().dispatch(request, *args, **kwargs)

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "parent": self.parent}

    def get_context_data(self, **kwargs):
        return super().get_context_data(parent=self.parent, **kwargs)

    def form_valid(self, form):
        try:
            group = services.group_create(
                actor=self.request.user,
                parent=self.parent,
                ip_address=client_ip(self.request),
                **form.cleaned_data,
            )
        except ValidationError as error:
            apply_service_errors(form, error)
            return self.form_invalid(form)
        messages.success(self.request, _("Group '%(name)s' was created.") % {"name": group.name})
        return redirect("group", full_path=group.full_path)


class ProjectCreateView(LoginRequiredMixin, FormView):
    """New project in a group the user maintains; `?namespace_id=<id>` preselects it."""

    template_name = "tokens_site/project_new.html"
    form_class = ProjectForm

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        kwargs["groups"] = Group.objects.maintained_by(self.request.user)
        return kwargs

    def get_initial(self):
        namespace_id = self.request.GET.get("namespace_id", "")
        return {"group": namespace_id} if record_id(namespace_id) is not None else {}

    def form_valid(self, form):
        try:
            project = services.project_create(
                actor=self.request.user, ip_address=client_ip(self.request), **form.cleaned_data
            )
        except ValidationError as error:
            apply_service_errors(form, error)
            return self.form_invalid(form)
        messages.success(
            self.request, _("Project '%(name)s' was created.") % {"name": project.name}
        )
        return redirect("project", full_path=project.full_path)


class GroupView(GroupMixin, TemplateView):
    template_name = "tokens_site/group.html"

    def get_context_data(self, **kwargs):
        user = self.request.user
        top_level = self.group.parent_id is None
        return super().get_context_data(
            subgroups=Group.objects.visible_to(user).filter(parent=self.group),
            projects=Project.objects.visible_to(user).filter(group=self.group),
            dependency_proxy_size=cache_size(self.group) if top_level else None,
            dependency_proxy_host=urlsplit(settings.EXTERNAL_URL).netloc,
            **kwargs,
        )


class GroupGeneralSettingsView(GroupMixin, FormView):
    """Group > Settings > General: the two-factor requirement of its members (Owners)."""

    template_name = "tokens_site/group_settings.html"
    form_class = GroupTwoFactorForm
    required = Ability.MANAGE_SETTINGS

    def get_form_kwargs(self):
        # An unsaved copy: the form's validation must not change the group shown around it.
        return {**super().get_form_kwargs(), "instance": Group.objects.get(pk=self.group.pk)}

    def get_context_data(self, **kwargs):
        return super().get_context_data(nav="settings_general", **kwargs)

    def form_valid(self, form):
        try:
            services.group_update(
                actor=self.request.user,
                group=self.group,
                ip_address=client_ip(self.request),
                **form.cleaned_data,
            )
        except ValidationError as error:
            apply_service_errors(form, error)
            return self.form_invalid(form)
        messages.success(
            self.request, _("Group '%(name)s' was updated.") % {"name": self.group.name}
        )
        return redirect("group_settings", full_path=self.group.full_path)


class ProjectView(ProjectMixin, TemplateView):
    template_name = "tokens_site/project.html"

    def get_context_data(self, **kwargs):
        clone_url = f"{settings.EXTERNAL_URL}/{self.project.full_path}.git"
        scheme, _separator, rest = clone_url.partition("://")
        return super().get_context_data(
            clone_url=clone_url,
            clone_url_scheme=scheme,
            clone_url_rest=rest,
            lfs=self.project.lfs_objects.aggregate(count=Count("id"), size=Sum("size")),
            package_size=PackageFile.objects.filter(package__project=self.project).aggregate(
                size=Sum("size")
            )["size"],
            **kwargs,
        )


class PackagesView(ProjectMixin, TemplateView):
    """Deploy > Package registry: the project's packages and how to use them with each token."""

    template_name = "tokens_site/packages.html"
    required = Ability.READ_PACKAGES

    def get_context_data(self, **kwargs):
        api = f"{settings.EXTERNAL_URL}/api/v4/projects/{self.project.pk}/packages"
        return super().get_context_data(
            packages=self.project.packages.prefetch_related("files"),
            pypi_url=f"{api}/pypi",
            generic_url=f"{api}/generic",
            nuget_url=f"{api}/nuget",
            nuget_group_url=(
                f"{settings.EXTERNAL_URL}/api/v4/groups/{self.project.group_id}/-/packages/nuget"
            ),
            npm_url=f"{api}/npm",
            npm_instance_url=f"{settings.EXTERNAL_URL}/api/v4/packages/npm",
            npm_scope=npm.scope_of(self.project),
            host=urlsplit(settings.EXTERNAL_URL).netloc,
            scheme=urlsplit(settings.EXTERNAL_URL).scheme,
            nav="packages",
            **kwargs,
        )


USER_SEARCH_LIMIT = 20


def user_search(request):
    """`/-/autocomplete/users?search=`: up to 20 active people (no access tokens' bots) whose
    username or name starts with the text, for the members page's username field. Signed-in
    users only, as GitLab's user search."""
    if not request.user.is_authenticated:
        return JsonResponse({"message": "Sign in to search users."}, status=401)
    text = request.GET.get("search", "").strip().removeprefix("@")[:100]
    if not text:
        return JsonResponse([], safe=False)
    users = (
        get_user_model()
        .objects.filter(is_active=True, bot__isnull=True)
        .filter(
            Q(username__istartswith=text)
            | Q(first_name__istartswith=text)
            | Q(last_name__istartswith=text)
        )
        .order_by("username")[:USER_SEARCH_LIMIT]
    )
    return JsonResponse(
        [{"username": user.username, "name": user.get_full_name()} for user in users],
        safe=False,
    )


class PackageDeleteView(ProjectMixin, View):
    """Delete a package version from the package registry page (Maintainers and Owners)."""

    required = Ability.MANAGE_SETTINGS
    denied_message = gettext_lazy(
        "You need at least the Maintainer role in this project to delete packages."
    )
    http_method_names = ["post"]

    def post(self, request, package_id: int):
        package = get_object_or_404(Package, pk=package_id, project=self.project)
        label = package.label
        package_destroy(actor=request.user, package=package, ip_address=client_ip(request))
        messages.success(request, _("Package %(label)s was deleted.") % {"label": label})
        return redirect("packages", full_path=self.project.full_path)


class ContainerRegistryView(ProjectMixin, TemplateView):
    """Deploy > Container registry: the project's images (asked of the registry itself) and
    how to log in with each token kind."""

    template_name = "tokens_site/container_registry.html"
    required = Ability.READ_REGISTRY

    def get_context_data(self, **kwargs):
        repositories, unavailable = [], None
        if settings.REGISTRY_URL:
            try:
                repositories = project_repositories(self.project)
            except RegistryUnavailable:
                unavailable = _("The container registry could not be reached just now.")
        return super().get_context_data(
            registry_host=urlsplit(settings.REGISTRY_URL).netloc,
            image=self.project.full_path.lower(),
            repositories=repositories,
            unavailable=unavailable,
            nav="container_registry",
            **kwargs,
        )


def namespace_view(request, full_path: str):
    """`/<full_path>`: a project's page, or a group's (whose canonical URL is /groups/...)."""
    group = Group.objects.visible_to(request.user).by_full_path(full_path).first()
    if group is not None:
        return redirect("group", full_path=group.full_path)
    return ProjectView.as_view()(request, full_path=full_path)


class MembersMixin:
    """Members of a group or project: shared by both members pages. Whoever may see the group
    or project may see its members; the services decide who may change them. Comes after
    GroupMixin or ProjectMixin, which resolve the group or project first."""

    @property
    def source(self) -> Group | Project:
        raise NotImplementedError

    def members_url(self) -> str:
        raise NotImplementedError

    def dispatch(self, request, *args, **kwargs):
        # Anyone who may see the members may be about to change them: a visitor who is not
        # signed in is asked to, rather than refused.
        if request.method == "POST" and not request.user.is_authenticated:
            return redirect_to_login(self.members_url())
        return super().dispatch(request, *args, **kwargs)

    def inherited_memberships(self) -> QuerySet:
        return Membership.objects.inherited_by(self.source).select_related("user", "group")


class MembersView(MembersMixin, FormView):
    template_name = "tokens_site/members.html"
    form_class = MemberAddForm

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "access": self.access}

    def get_context_data(self, **kwargs):
        direct = self.source.memberships.select_related("user")
        rows = [
            {
                "membership": membership,
                "can_manage": self.access.can_manage_member(membership.access_level),
                "is_self": membership.user_id == self.request.user.pk,
                "last_owner": services.is_last_owner(membership),
                "form": MemberUpdateForm(
                    access=self.access, initial={"access_level": membership.access_level}
                ),
            }
            for membership in direct
        ]
        return super().get_context_data(
            source=self.source,
            rows=rows,
            inherited=self.inherited_memberships(),
            members_url=self.members_url(),
            **kwargs,
        )

    def post(self, request, *args, **kwargs):
        self.access.require(
            Ability.MANAGE_MEMBERS, _("You need at least the Maintainer role to add members.")
        )
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        try:
            membership = services.member_add(
                actor=self.request.user,
                source=self.source,
                ip_address=client_ip(self.request),
                **form.cleaned_data,
            )
        except ValidationError as error:
            apply_service_errors(form, error)
            return self.form_invalid(form)
        messages.success(
            self.request,
            _("%(username)s was added as %(role)s.")
            % {
                "username": membership.user.username,
                "role": membership.get_access_level_display(),
            },
        )
        return redirect(self.members_url())


class MemberActionView(MembersMixin, View):
    """POST-only change of one direct membership (`action` is "update" or "remove")."""

    http_method_names = ["post"]
    action = "update"

    def post(self, request, *args, member_id: int, **kwargs):
        membership = get_object_or_404(self.source.memberships.select_related("user"), pk=member_id)
        left = False
        try:
            if self.action == "remove":
                services.member_remove(
                    actor=request.user, membership=membership, ip_address=client_ip(request)
                )
                messages.success(
                    request,
                    _("%(username)s was removed.") % {"username": membership.user.username},
                )
                left = membership.user_id == request.user.pk
            else:
                form = MemberUpdateForm(request.POST, access=self.access)
                if not form.is_valid():
                    raise ValidationError(_("Choose one of the listed roles."))
                services.member_update(
                    actor=request.user,
                    membership=membership,
                    ip_address=client_ip(request),
                    **form.cleaned_data,
                )
                messages.success(
                    request,
                    _("%(username)s is now %(role)s.")
                    % {
                        "username": membership.user.username,
                        "role": membership.get_access_level_display(),
                    },
                )
        except ValidationError as error:
            for message in error.messages:
                messages.error(request, message)
        if left:
            return redirect("dashboard")
        return redirect(self.members_url())


class GroupMembersMixin(GroupMixin):
    @property
    def source(self) -> Group:
        return self.group

    def members_url(self) -> str:
        return reverse("group_members", kwargs={"full_path": self.group.full_path})


class ProjectMembersMixin(ProjectMixin):
    @property
    def source(self) -> Project:
        return self.project

    def members_url(self) -> str:
        return reverse("project_members", kwargs={"full_path": self.project.full_path})


class GroupMembersView(GroupMembersMixin, MembersView):
    pass


class ProjectMembersView(ProjectMembersMixin, MembersView):
    pass


class GroupMemberActionView(GroupMembersMixin, MemberActionView):
    pass


class ProjectMemberActionView(ProjectMembersMixin, MemberActionView):
    pass


def liveness(request):
    """`/-/liveness`: the process answers (no database, no cache)."""
    return HttpResponse("ok\n", content_type="text/plain")


_instance_settings_row = CompiledLookup(
    lambda pk: InstanceSettings.objects.order_by().filter(pk=pk).values_list("pk"),
    sentinel=-1,
)


def readiness(request):
    """`/-/readiness`: the database answers (one primary-key lookup, compiled once like the
    token lookups, so it is the floor any revocable credential check is measured against)."""
    try:
        _instance_settings_row.row(InstanceSettings.SINGLETON_ID)
    except DatabaseError:
        return HttpResponse("database unavailable\n", status=503, content_type="text/plain")
    return HttpResponse("ok\n", content_type="text/plain")


@credential_required(None, family=WHOAMI, load_project=None)
def whoami(request, project, principal):
    """`/-/whoami`: who the presented token is, for checking a token from a script
    (`curl -u <username>:<token> .../-/whoami`). Answers 401 for bad credentials and for
    passwords (only Git over HTTP takes those), 403 for a deploy token while external
    authorization is on (credential_required refuses it everywhere then)."""
    token = principal.token
    return JsonResponse(
        {
            "kind": principal.kind.value,
            "username": principal.username,
            "scopes": sorted(principal.scopes),
            "expires_at": token.expires_at.isoformat() if token and token.expires_at else None,
        }
    )
