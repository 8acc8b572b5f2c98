from django.urls import path

from two_factor import views

app_name = "two_factor"

urlpatterns = [
    path("-/user_settings/two_factor_auth", views.TwoFactorSettingsView.as_view(), name="settings"),
    path(
        "-/user_settings/two_factor_auth/codes",
        views.RecoveryCodesRegenerateView.as_view(),
        name="regenerate",
    ),
    path(
        "-/user_settings/two_factor_auth/codes.txt",
        views.RecoveryCodesDownloadView.as_view(),
        name="download",
    ),
    path(
        "-/user_settings/two_factor_auth/disable",
        views.TwoFactorDisableView.as_view(),
        name="disable",
    ),
    path(
        "-/user_settings/two_factor_auth/security_keys",
        views.SecurityKeyAddView.as_view(),
        name="key_add",
    ),
    path(
        "-/user_settings/two_factor_auth/security_keys/<int:key_id>/remove",
        views.SecurityKeyRemoveView.as_view(),
        name="key_remove",
    ),
    path("users/sign_in/two_factor", views.SecondStepView.as_view(), name="sign_in"),
]
