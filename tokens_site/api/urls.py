"""`/api/v4/...`. A group or project is named by its id or its URL-encoded full path
(`tanuki%2Fbackend`): ApiRawPathMiddleware keeps the encoding so the path stays one segment."""

from django.urls import path, re_path
from drf_spectacular.views import SpectacularSwaggerSplitView

from tokens_site.api import views
from tokens_site.packages import npm_views, nuget_views
from tokens_site.packages import views as packages

app_name = "api"

SOURCE = r"(?P<kind>groups|projects)/(?P<ref>[^/]+)"
# An npm package name: `@scope%2fname` (as npm sends it: the path is routed undecoded),
# `@scope/name`, or a bare name; and a tarball's file name, with or without the scope.
NPM_NAME = r"(?P<name>@[^/%]+(?:/|%2[fF])[^/]+|[^/@][^/]*)"
NPM_FILE = r"(?P<file_name>(?:@[^/%]+(?:/|%2[fF]))?[^/]+\.tgz)"


def nuget_routes(prefix: str, level: str) -> list:
    """The reading endpoints of a NuGet feed under `prefix`, served by `<level>_<name>` views."""
    views_of = {name: getattr(nuget_views, f"{level}_{name}") for name in nuget_views.READERS}
    package = r"(?P<package_id>[^/]+)"
    return [
        re_path(rf"{prefix}/index\.json$", views_of["service_index"]),
        re_path(rf"{prefix}/metadata/{package}/index(?:\.json)?$", views_of["registration_index"]),
        re_path(rf"{prefix}/metadata/{package}/(?P<version>[^/]+)$", views_of["registration_leaf"]),
        re_path(rf"{prefix}/download/{package}/index(?:\.json)?$", views_of["versions"]),
        re_path(
            rf"{prefix}/download/{package}/(?P<version>[^/]+)/(?P<file_name>[^/]+)$",
            views_of["content"],
        ),
        re_path(rf"{prefix}/query/?$", views_of["query"]),
    ]


urlpatterns = [
    # The OpenAPI 3 document (no token needed) and a page to read and try it.
    path("openapi.json", views.OpenApiDocument.as_view(), name="openapi"),
    path(
        "docs",
        SpectacularSwaggerSplitView.as_view(
            url_name="api:openapi", template_name="tokens_site/api/docs.html"
        ),
        name="docs",
    ),
    path("user", views.CurrentUser.as_view(), name="user"),
    path(
        "user/personal_access_tokens",
        views.CurrentUserPersonalAccessTokens.as_view(),
        name="user_personal_access_tokens_self",
    ),
    path("users", views.Users.as_view(), name="users"),
    path("users/<str:user_id>", views.UserDetail.as_view(), name="user_detail"),
    path("users/<str:user_id>/block", views.UserBlock.as_view(), name="user_block"),
    path("users/<str:user_id>/unblock", views.UserUnblock.as_view(), name="user_unblock"),
    path("users/<str:user_id>/projects", views.UserProjects.as_view(), name="user_projects"),
    path(
        "users/<str:user_id>/memberships",
        views.UserMemberships.as_view(),
        name="user_memberships",
    ),
    path(
        "users/<str:user_id>/personal_access_tokens",
        views.UserPersonalAccessTokens.as_view(),
        name="user_personal_access_tokens",
    ),
    path("metadata", views.Metadata.as_view(), name="metadata"),
    path("version", views.Version.as_view(), name="version"),
    path("groups", views.Groups.as_view(), name="groups"),
    path("groups/<str:group_ref>", views.GroupDetail.as_view(), name="group"),
    path("groups/<str:group_ref>/subgroups", views.GroupSubgroups.as_view(), name="subgroups"),
    path(
        "groups/<str:group_ref>/descendant_groups",
        views.GroupDescendants.as_view(),
        name="descendant_groups",
    ),
    path("groups/<str:group_ref>/projects", views.GroupProjects.as_view(), name="group_projects"),
    path("namespaces", views.Namespaces.as_view(), name="namespaces"),
    path("namespaces/<str:namespace_ref>", views.NamespaceDetail.as_view(), name="namespace"),
    path("projects", views.Projects.as_view(), name="projects"),
    path("projects/<str:project_ref>", views.ProjectDetail.as_view(), name="project"),
    re_path(rf"^{SOURCE}/members$", views.Members.as_view(), name="members"),
    re_path(rf"^{SOURCE}/members/all$", views.MembersAll.as_view(), name="members_all"),
    re_path(
        rf"^{SOURCE}/members/all/(?P<user_id>[^/]+)$",
        views.MemberAllDetail.as_view(),
        name="member_all",
    ),
    re_path(rf"^{SOURCE}/members/(?P<user_id>[^/]+)$", views.MemberDetail.as_view(), name="member"),
    re_path(rf"^{SOURCE}/deploy_tokens$", views.DeployTokens.as_view(), name="deploy_tokens"),
    re_path(
        rf"^{SOURCE}/deploy_tokens/(?P<token_id>[^/]+)$",
        views.DeployTokenDetail.as_view(),
        name="deploy_token",
    ),
    re_path(
        rf"^{SOURCE}/deploy_tokens/(?P<token_id>[^/]+)/rotate$",
        views.DeployTokenRotate.as_view(),
        name="deploy_token_rotate",
    ),
    re_path(rf"^{SOURCE}/access_tokens$", views.AccessTokens.as_view(), name="access_tokens"),
    re_path(
        rf"^{SOURCE}/access_tokens/(?P<token_id>[^/]+)$",
        views.AccessTokenDetail.as_view(),
        name="access_token",
    ),
    re_path(
        rf"^{SOURCE}/access_tokens/(?P<token_id>[^/]+)/rotate$",
        views.AccessTokenRotate.as_view(),
        name="access_token_rotate",
    ),
    path("deploy_tokens", views.AllDeployTokens.as_view(), name="all_deploy_tokens"),
    path("admin/token", views.AdminToken.as_view(), name="admin_token"),
    path(
        "personal_access_tokens",
        views.PersonalAccessTokens.as_view(),
        name="personal_access_tokens",
    ),
    path(
        "personal_access_tokens/self/rotate",
        views.PersonalAccessTokenRotateSelf.as_view(),
        name="personal_access_token_rotate_self",
    ),
    path(
        "personal_access_tokens/<str:token_id>",
        views.PersonalAccessTokenDetail.as_view(),
        name="personal_access_token",
    ),
    path(
        "personal_access_tokens/<str:token_id>/rotate",
        views.PersonalAccessTokenRotate.as_view(),
        name="personal_access_token_rotate",
    ),
    re_path(
        r"^groups/(?P<group_ref>[^/]+)/dependency_proxy/cache$",
        views.GroupDependencyProxyCache.as_view(),
    ),
    # GitLab's Packages API (any format): list, read, delete.
    re_path(r"^projects/(?P<project_ref>[^/]+)/packages$", views.ProjectPackages.as_view()),
    re_path(
        r"^projects/(?P<project_ref>[^/]+)/packages/(?P<package_id>[0-9]+)$",
        views.ProjectPackageDetail.as_view(),
    ),
    # NuGet v3 (tokens_site.packages.nuget_views), at the project and (read-only) group level.
    *nuget_routes(r"^projects/(?P<project_ref>[^/]+)/packages/nuget", "project"),
    *nuget_routes(r"^groups/(?P<group_ref>[^/]+)/-/packages/nuget", "group"),
    # `nuget push` of NuGet 2.x (Debian's Mono nuget) PUTs to the source URL itself, with a
    # slash: `.../index.json/`.
    re_path(
        r"^projects/(?P<project_ref>[^/]+)/packages/nuget(?:/index\.json)?/?$", nuget_views.push
    ),
    re_path(r"^projects/(?P<project_ref>[^/]+)/packages/nuget/v2/?$", nuget_views.v2_root),
    re_path(
        r"^projects/(?P<project_ref>[^/]+)/packages/nuget/(?:v2|index\.json)/(?P<rest>.+)$",
        nuget_views.v2,
    ),
    re_path(
        r"^groups/(?P<group_ref>[^/]+)/-/packages/nuget/(?:symbolpackage/?)?$",
        nuget_views.group_push,
    ),
    re_path(
        r"^projects/(?P<project_ref>[^/]+)/packages/nuget/symbolpackage/?$",
        nuget_views.push_symbols,
    ),
    # npm (tokens_site.packages.npm_views): a scoped name is one or two path segments.
    re_path(
        rf"^projects/(?P<project_ref>[^/]+)/packages/npm/-/package/{NPM_NAME}/dist-tags/?$",
        npm_views.dist_tags,
    ),
    re_path(
        rf"^projects/(?P<project_ref>[^/]+)/packages/npm/-/package/{NPM_NAME}/dist-tags/"
        r"(?P<tag>[^/]+)$",
        npm_views.dist_tag,
    ),
    re_path(
        rf"^projects/(?P<project_ref>[^/]+)/packages/npm/{NPM_NAME}/-/{NPM_FILE}$",
        npm_views.tarball,
    ),
    re_path(rf"^projects/(?P<project_ref>[^/]+)/packages/npm/{NPM_NAME}$", npm_views.package),
    re_path(rf"^packages/npm/-/package/{NPM_NAME}/dist-tags/?$", npm_views.instance_dist_tags),
    re_path(rf"^packages/npm/{NPM_NAME}/-/{NPM_FILE}$", npm_views.instance_tarball),
    re_path(rf"^packages/npm/{NPM_NAME}$", npm_views.instance_package),
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
    re_path(r"^(?P<rest>.*)$", views.Unknown.as_view()),
]
