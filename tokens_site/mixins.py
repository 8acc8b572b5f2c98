"""View mixins that resolve the group or project named in the URL for the current user.

A view declares what it needs with `required = "<Access property>"`; the mixin answers 404 for
what the user may not see (anonymous visitors are sent to sign in instead, whether or not the
thing exists) and 403 with `denied_message` for what they may see but not do.
"""

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404

from tokens_site.access import Access, group_access, project_access
from tokens_site.models import Group, Project


class ScopedObjectMixin:
    required: str | None = None
    denied_message = "You don't have permission to do that here."
    access: Access

    def resolve(self, request, full_path: str):
        raise NotImplementedError

    def dispatch(self, request, *args, full_path: str, **kwargs):
        try:
            self.resolve(request, full_path)
        except (Group.DoesNotExist, Project.DoesNotExist):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            raise Http404("Page not found") from None
        if self.required and not getattr(self.access, self.required):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            raise PermissionDenied(self.denied_message)
        return super().dispatch(request, *args, **kwargs)


class GroupMixin(ScopedObjectMixin):
    group: Group

    def resolve(self, request, full_path: str) -> None:
        self.group = Group.objects.visible_to(request.user).get(full_path=full_path)
        self.access = group_access(request.user, self.group)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(group=self.group, access=self.access, crumbs=self.group.ancestors())
        return context


class ProjectMixin(ScopedObjectMixin):
    project: Project

    def resolve(self, request, full_path: str) -> None:
        self.project = (
            Project.objects.visible_to(request.user)
            .select_related("group")
            .get(full_path=full_path)
        )
        self.access = project_access(request.user, self.project)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(
            project=self.project, access=self.access, crumbs=self.project.group.ancestors()
        )
        return context
