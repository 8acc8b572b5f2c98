"""Audit events: who did what to which token, membership, group, project, account or address,
from where."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class AuditAction(models.TextChoices):
    DEPLOY_TOKEN_CREATE = "deploy_token.create", "Deploy token created"
    DEPLOY_TOKEN_REVOKE = "deploy_token.revoke", "Deploy token revoked"
    DEPLOY_TOKEN_ROTATE = "deploy_token.rotate", "Deploy token rotated"
    PERSONAL_TOKEN_CREATE = "personal_token.create", "Personal access token created"
    PERSONAL_TOKEN_REVOKE = "personal_token.revoke", "Personal access token revoked"
    PERSONAL_TOKEN_ROTATE = "personal_token.rotate", "Personal access token rotated"
    ACCESS_TOKEN_CREATE = "access_token.create", "Project or group access token created"
    TOKEN_LEAK_FIND = "token.leak_find", "Token found in pasted or scanned text"
    TOKEN_LEAK_REVOKE = "token.leak_revoke", "Token revoked after it was found in text"
    PACKAGE_PUBLISH = "package.publish", "Package published"
    PACKAGE_DELETE = "package.delete", "Package deleted"
    SECRET_PUSH_PROTECTION_BLOCK = (
        "secret_push_protection.block",
        "Push refused: secret push protection found secrets",
    )
    SECRET_PUSH_PROTECTION_SKIP = (
        "secret_push_protection.skip",
        "Secret push protection skipped with a push option",
    )
    TOKEN_FAMILY_REVOKE = (
        "token.family_revoke",
        "Token family revoked: a rotated-out value was used to rotate again",
    )
    MEMBER_ADD = "member.add", "Member added"
    MEMBER_CHANGE = "member.change", "Member access level changed"
    MEMBER_REMOVE = "member.remove", "Member removed"
    GROUP_CREATE = "group.create", "Group created"
    GROUP_UPDATE = "group.update", "Group settings changed"
    GROUP_DELETE = "group.delete", "Group deleted"
    PROJECT_CREATE = "project.create", "Project created"
    PROJECT_UPDATE = "project.update", "Project settings changed"
    PROJECT_DELETE = "project.delete", "Project deleted"
    USER_UPDATE = "user.update", "User changed"
    USER_BLOCK = "user.block", "User blocked"
    USER_UNBLOCK = "user.unblock", "User unblocked"
    IP_BAN = "ip.ban", "IP address banned"
    IP_UNBAN = "ip.unban", "IP address ban lifted"
    ACCOUNT_LOCK = "account.lock", "Account locked after failed sign-ins"
    ACCOUNT_UNLOCK = "account.unlock", "Account unlocked"
    TWO_FACTOR_ENABLE = "two_factor.enable", "Two-factor authentication enabled"
    TWO_FACTOR_DISABLE = "two_factor.disable", "Two-factor authentication disabled"
    RECOVERY_CODES_REGENERATE = (
        "two_factor.recovery_codes_regenerate",
        "Two-factor recovery codes regenerated",
    )
    RECOVERY_CODE_USE = "two_factor.recovery_code_use", "Two-factor recovery code used"
    TWO_FACTOR_RESET = "two_factor.reset", "Two-factor authentication reset by an administrator"
    SECURITY_KEY_ADD = "two_factor.security_key_add", "Security key added"
    SECURITY_KEY_REMOVE = "two_factor.security_key_remove", "Security key removed"


class AuditEvent(models.Model):
    """Who did what to which token, membership, group, project, account or address, from where,
    when. Append-only."""

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # Kept as text too, so the record survives the actor's deletion.
    actor_username = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=40, choices=AuditAction.choices, db_index=True)
    target_type = models.CharField(max_length=40)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=1024)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        who = self.actor_username or "system"
        return f"{self.created_at:%Y-%m-%d %H:%M} {who}: {self.get_action_display()}"
