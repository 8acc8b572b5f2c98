from django.urls import path

from access_tokens import views
from tokens_site import converters  # noqa: F401  (registers `fullpath`)

app_name = "access_tokens"

urlpatterns = [
    path(
        "groups/<fullpath:full_path>/-/settings/access_tokens",
        views.GroupAccessTokenSettingsView.as_view(),
        name="group_settings",
    ),
    path(
        "groups/<fullpath:full_path>/-/settings/access_tokens/<int:token_id>/revoke",
        views.GroupAccessTokenSettingsView.as_view(action="revoke"),
        name="group_revoke",
    ),
    path(
        "groups/<fullpath:full_path>/-/settings/access_tokens/<int:token_id>/rotate",
        views.GroupAccessTokenSettingsView.as_view(action="rotate"),
        name="group_rotate",
    ),
    path(
        "<fullpath:full_path>/-/settings/access_tokens",
        views.ProjectAccessTokenSettingsView.as_view(),
        name="project_settings",
    ),
    path(
        "<fullpath:full_path>/-/settings/access_tokens/<int:token_id>/revoke",
        views.ProjectAccessTokenSettingsView.as_view(action="revoke"),
        name="project_revoke",
    ),
    path(
        "<fullpath:full_path>/-/settings/access_tokens/<int:token_id>/rotate",
        views.ProjectAccessTokenSettingsView.as_view(action="rotate"),
        name="project_rotate",
    ),
]
