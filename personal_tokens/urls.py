from django.urls import path
from django.views.generic import RedirectView

from personal_tokens import views

app_name = "personal_tokens"

urlpatterns = [
    path(
        "-/user_settings/personal_access_tokens",
        views.PersonalAccessTokensView.as_view(),
        name="index",
    ),
    path(
        "-/user_settings/personal_access_tokens/<int:token_id>/revoke",
        views.PersonalAccessTokensView.as_view(),
        name="revoke",
    ),
    path(
        "-/user_settings/personal_access_tokens/<int:token_id>/rotate",
        views.PersonalAccessTokensView.as_view(action="rotate"),
        name="rotate",
    ),
    # The older address keeps working, prefill included.
    path(
        "-/profile/personal_access_tokens",
        RedirectView.as_view(pattern_name="personal_tokens:index", query_string=True),
        name="legacy",
    ),
]
