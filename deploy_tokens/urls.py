from django.urls import path

from deploy_tokens import views
from tokens_site import converters  # noqa: F401  (registers `fullpath`)

app_name = "deploy_tokens"

urlpatterns = [
    path(
        "groups/<fullpath:full_path>/-/settings/repository",
        views.GroupDeployTokenSettingsView.as_view(),
        name="group_settings",
    ),
    path(
        "groups/<fullpath:full_path>/-/settings/repository/deploy_token/create",
        views.GroupDeployTokenSettingsView.as_view(action="create"),
        name="group_create",
    ),
    path(
        "groups/<fullpath:full_path>/-/deploy_tokens/<int:token_id>/revoke",
        views.GroupDeployTokenSettingsView.as_view(action="revoke"),
        name="group_revoke",
    ),
    path(
        "groups/<fullpath:full_path>/-/deploy_tokens/<int:token_id>/rotate",
        views.GroupDeployTokenSettingsView.as_view(action="rotate"),
        name="group_rotate",
    ),
    path(
        "<fullpath:full_path>/-/settings/repository",
        views.ProjectDeployTokenSettingsView.as_view(),
        name="project_settings",
    ),
    path(
        "<fullpath:full_path>/-/settings/repository/deploy_token/create",
        views.ProjectDeployTokenSettingsView.as_view(action="create"),
        name="project_create",
    ),
    path(
        "<fullpath:full_path>/-/deploy_tokens/<int:token_id>/revoke",
        views.ProjectDeployTokenSettingsView.as_view(action="revoke"),
        name="project_revoke",
    ),
    path(
        "<fullpath:full_path>/-/deploy_tokens/<int:token_id>/rotate",
        views.ProjectDeployTokenSettingsView.as_view(action="rotate"),
        name="project_rotate",
    ),
]
