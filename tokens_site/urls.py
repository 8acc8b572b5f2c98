"""Root URLs, GitLab-style: `/groups/<full_path>` for groups, `/<full_path>` for projects, and
`/-/` separating a group's or project's sub-pages from its path."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path

from tokens_site import converters, views  # noqa: F401  (converters registers `fullpath`)
from tokens_site.auth.views import SignInView
from tokens_site.dependency_proxy import views as proxy_views
from tokens_site.language import language_set
from tokens_site.registry import views as registry_views

urlpatterns = [
    path("", views.DashboardView.as_view(), name="dashboard"),
    path("explore", views.ExploreView.as_view(), name="explore"),
    path("-/liveness", views.liveness, name="liveness"),
    path("-/readiness", views.readiness, name="readiness"),
    path("-/whoami", views.whoami, name="whoami"),
    # Git first: each request of a clone is matched before the pages' patterns are tried (a
    # Git path ends in `.git/<service>`, which no page's path does).
    path("", include("tokens_site.git_http.urls")),
    path("jwt/auth", registry_views.token, name="registry_token"),
    path("-/autocomplete/users", views.user_search, name="user_search"),
    # The dependency proxy (tokens_site.dependency_proxy): the site is the registry of its paths.
    path("v2/", proxy_views.version_check, name="dependency_proxy_v2"),
    re_path(
        r"^v2/(?P<group_path>[^/]+)/dependency_proxy/containers/(?P<image>.+)/"
        r"(?P<kind>manifests|blobs)/(?P<reference>[^/]+)$",
        proxy_views.content,
        name="dependency_proxy_content",
    ),
    path("users/sign_in", SignInView.as_view(), name="sign_in"),
    path("users/sign_out", auth_views.LogoutView.as_view(), name="sign_out"),
    path("-/user_settings/profile", views.ProfileView.as_view(), name="profile"),
    path("-/user_settings/language", language_set, name="language_set"),
    path("", include("two_factor.urls")),
    path("admin/", admin.site.urls),
    path("api/v4/", include("tokens_site.api.urls")),
    path("groups/new", views.GroupCreateView.as_view(), name="group_new"),
    path("projects/new", views.ProjectCreateView.as_view(), name="project_new"),
    path(
        "groups/<fullpath:full_path>/-/group_members",
        views.GroupMembersView.as_view(),
        name="group_members",
    ),
    path(
        "groups/<fullpath:full_path>/-/group_members/<int:member_id>",
        views.GroupMemberActionView.as_view(action="update"),
        name="group_member_update",
    ),
    path(
        "groups/<fullpath:full_path>/-/group_members/<int:member_id>/remove",
        views.GroupMemberActionView.as_view(action="remove"),
        name="group_member_remove",
    ),
    path(
        "groups/<fullpath:full_path>/-/edit",
        views.GroupGeneralSettingsView.as_view(),
        name="group_settings",
    ),
    path("groups/<fullpath:full_path>", views.GroupView.as_view(), name="group"),
    path(
        "<fullpath:full_path>/-/project_members",
        views.ProjectMembersView.as_view(),
        name="project_members",
    ),
    path(
        "<fullpath:full_path>/-/project_members/<int:member_id>",
        views.ProjectMemberActionView.as_view(action="update"),
        name="project_member_update",
    ),
    path(
        "<fullpath:full_path>/-/project_members/<int:member_id>/remove",
        views.ProjectMemberActionView.as_view(action="remove"),
        name="project_member_remove",
    ),
    path("<fullpath:full_path>/-/packages", views.PackagesView.as_view(), name="packages"),
    path(
        "<fullpath:full_path>/-/packages/<int:package_id>/delete",
        views.PackageDeleteView.as_view(),
        name="package_delete",
    ),
    path(
        "<fullpath:full_path>/-/container_registry",
        views.ContainerRegistryView.as_view(),
        name="container_registry",
    ),
    path("", include("personal_tokens.urls")),
    path("", include("deploy_tokens.urls")),
    path("", include("access_tokens.urls")),
    path("<fullpath:full_path>", views.namespace_view, name="project"),
]
