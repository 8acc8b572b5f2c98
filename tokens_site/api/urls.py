"""`/api/v4/...`. A group or project is named by its id or its URL-encoded full path
(`tanuki%2Fbackend`): ApiRawPathMiddleware keeps the encoding so the path stays one segment."""

from django.urls import path, re_path

from tokens_site.api import views
from tokens_site.packages import views as packages

app_name = "api"

SOURCE = r"(?P<kind>groups|projects)/(?P<ref>[^/]+)"

urlpatterns = [
    path("user", views.current_user, name="user"),
    path("users", views.users, name="users"),
    path("users/<str:user_id>", views.user_detail, name="user_detail"),
    path(
        "users/<str:user_id>/personal_access_tokens",
        views.user_personal_access_tokens,
        name="user_personal_access_tokens",
    ),
    path("groups", views.groups, name="groups"),
    path("groups/<str:group_ref>", views.group_detail, name="group"),
    path("groups/<str:group_ref>/subgroups", views.group_subgroups, name="subgroups"),
    path("groups/<str:group_ref>/projects", views.group_projects, name="group_projects"),
    path("projects", views.projects, name="projects"),
    path("projects/<str:project_ref>", views.project_detail, name="project"),
    re_path(rf"^{SOURCE}/members$", views.members, name="members"),
    re_path(rf"^{SOURCE}/members/all$", views.members_all, name="members_all"),
    re_path(
        rf"^{SOURCE}/members/all/(?P<user_id>[^/]+)$",
        views.member_all_detail,
        name="member_all",
    ),
    re_path(rf"^{SOURCE}/members/(?P<user_id>[^/]+)$", views.member_detail, name="member"),
    re_path(rf"^{SOURCE}/deploy_tokens$", views.deploy_tokens, name="deploy_tokens"),
    re_path(
        rf"^{SOURCE}/deploy_tokens/(?P<token_id>[^/]+)$",
        views.deploy_token_detail,
        name="deploy_token",
    ),
    path("deploy_tokens", views.all_deploy_tokens, name="all_deploy_tokens"),
    path("personal_access_tokens", views.personal_access_tokens, name="personal_access_tokens"),
    path(
        "personal_access_tokens/self/rotate",
        views.personal_access_token_rotate_self,
        name="personal_access_token_rotate_self",
    ),
    path(
        "personal_access_tokens/<str:token_id>",
        views.personal_access_token_detail,
        name="personal_access_token",
    ),
    path(
        "personal_access_tokens/<str:token_id>/rotate",
        views.personal_access_token_rotate,
        name="personal_access_token_rotate",
    ),
    # The package registry (tokens_site.packages): its own credentials rules (deploy tokens too).
    path("projects/<str:project_ref>/packages/pypi", packages.pypi_upload, name="pypi_upload"),
    path("projects/<str:project_ref>/packages/pypi/simple", packages.pypi_simple_index),
    path(
        "projects/<str:project_ref>/packages/pypi/simple/",
        packages.pypi_simple_index,
        name="pypi_simple",
    ),
    re_path(
        r"^projects/(?P<project_ref>[^/]+)/packages/pypi/simple/(?P<name>[^/]+)/?$",
        packages.pypi_simple_package,
        name="pypi_simple_package",
    ),
    path(
        "projects/<str:project_ref>/packages/pypi/files/<str:sha256>/<str:file_name>",
        packages.pypi_file,
        name="pypi_file",
    ),
    path(
        "projects/<str:project_ref>/packages/generic/<str:name>/<str:version>/<str:file_name>",
        packages.generic_file,
        name="generic_file",
    ),
    re_path(r"^(?P<rest>.*)$", views.unknown),
]
