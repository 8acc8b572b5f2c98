"""django-otp's device admin is taken away: it would change two-factor authentication without
an audit event, and cannot read the sealed keys (two_factor.models.AuthenticatorApp). Users
change theirs on their settings page; administrators reset it from the user list
(tokens_site.admin.TokensUserAdmin). This app comes after django-otp's in INSTALLED_APPS, so
its admin is registered by the time this runs."""

from django.contrib import admin
from django_otp.plugins.otp_totp.models import TOTPDevice

admin.site.unregister(TOTPDevice)
