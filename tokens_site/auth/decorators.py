"""`@credential_required`: how a downstream view declares the project it serves and the ability
it needs. The pipeline says who the request is (tokens_site.auth.pipeline), the policy whether
they may (tokens_site.access.policy), and every refusal is built in one place
(tokens_site.auth.refusals). No session is created and no CSRF token is needed."""

import functools
from collections.abc import Callable
from urllib.parse import unquote

from django.utils.cache import patch_cache_control
from django.views.decorators.csrf import csrf_exempt

from tokens_site.access.abilities import Ability
from tokens_site.access.lookups import find
from tokens_site.access.policy import Denied, authorize
from tokens_site.auth.families import Family
from tokens_site.auth.pipeline import authenticate
from tokens_site.auth.refusals import refuse
from tokens_site.language import activate_for
from tokens_site.lookups import Companion, CompiledLookup, attach, instance_from
from tokens_site.models import Group, Project

# What checking access to a project needs of it (and of its group); nothing else is read.
PROJECT_FIELDS = ("id", "full_path", "visibility", "group__id", "group__traversal")
# Git's, every request of a clone: compiled once (building the query was a third of a cached
# info/refs request's time).
_project_by_full_path = CompiledLookup(
    lambda full_path: (
        Project.objects.order_by().by_full_path(full_path).values_list(*PROJECT_FIELDS)
    ),
    sentinel="__full_path__",
)


def _projects():
    return Project.objects.select_related("group").only(*PROJECT_FIELDS)


class ProjectAtFullPath(Companion):
    """`full_path` from the URL (Git): the project at that path, ignoring case. Its row is read
    by the statement that checks the credential (one round trip for both)."""

    def __init__(self, kwargs):
        super().__init__(_project_by_full_path, kwargs.pop("full_path").lower())

    def project(self) -> Project | None:
        row = self.row()
        if row is None:
            return None
        project_id, full_path, visibility, group_id, traversal = row
        project = instance_from(
            Project,
            {
                "id": project_id,
                "full_path": full_path,
                "visibility": visibility,
                "group_id": group_id,
            },
        )
        attach(project, "group", instance_from(Group, {"id": group_id, "traversal": traversal}))
        return project


class ProjectByRef:
    """`project_ref` is a project's id or its URL-encoded full path (API style)."""

    def __init__(self, kwargs):
        self.ref = unquote(kwargs.pop("project_ref"))

    def project(self) -> Project | None:
        return find(_projects(), self.ref)


# What `credential_required(load_project=...)` takes: made from the URL's kwargs (taking what it
# reads of them), its `project()` is the project (None: not found).
ProjectLoader = type[ProjectAtFullPath] | type[ProjectByRef]


OWNER_LANGUAGE_FAMILIES = {"packages", "npm"}


def credential_required(
    ability: Ability | Callable[[object], Ability] | None,
    *,
    family: Family,
    load_project: ProjectLoader | None = ProjectAtFullPath,
):
    """Protect a downstream view. It is called as `view(request, project, principal,
    **remaining_url_kwargs)`. With `load_project=None` (and `ability=None`) the view serves no
    project: any valid credential passes (project is None) and anonymous requests get 401.

    `ability` may be a function of the request (e.g. Git's `?service=`) that raises Denied.
    """

    def decorator(view):
        @csrf_exempt
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            principal = None
            try:
                wanted = ability(request) if callable(ability) else ability
                loader = load_project(kwargs) if load_project else None
                companion = loader if isinstance(loader, Companion) else None
                principal = authenticate(request, family, companion=companion)
                # Only now the project (its row read with the credential's, if it could be): a
                # refused credential costs no query of its own for it.
                project = loader.project() if loader else None
                if project is None and principal.is_anonymous:
                    raise Denied(401, "")
                if project is None and load_project is not None:
                    raise Denied.not_found("Project")
                if project is not None:
                    authorize(principal, project, wanted)
            except Denied as denied:
                if principal is not None:  # a known user is refused in their language
                    activate_for(principal.user)
                return refuse(request, denied, family)
            if family.name in OWNER_LANGUAGE_FAMILIES:
                # npm, pip/twine and NuGet send no Accept-Language: their errors (a duplicate
                # version, a bad package) are in the token owner's language.
                activate_for(principal.user)
            response = view(request, project, principal, *args, **kwargs)
            if not principal.is_anonymous:
                # Credentials travel in headers shared caches do not know (`PRIVATE-TOKEN:`,
                # `Deploy-Token:`): none of them may keep what they opened.
                patch_cache_control(response, private=True)
            return response

        return wrapper

    return decorator
