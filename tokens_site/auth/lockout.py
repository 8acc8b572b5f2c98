"""Per-account sign-in lockout, as GitLab does it: after LOCKOUT_ATTEMPTS failed password
sign-ins (the web, the admin, and Git over HTTP with a password) the account is locked for
LOCKOUT_MINUTES, its owner is emailed, and an administrator can unlock it early. A locked
account is refused exactly like a wrong password (same message, and the password is still
checked, so the hashing takes the same time): the refusal never tells whether an account
exists, or is locked. (The failure's bookkeeping differs slightly — a locked account's
attempts do not extend its lock, an unknown username has no row to update — a difference of
one small database statement, far below the password hash's cost and the network's jitter.)

Failures are observed through Django's `user_login_failed` signal; the lock is enforced, and
a right password (on the web, in the admin, or for Git) forgets earlier failures, by the
authentication backend (`LockoutModelBackend`) — for an account with two-factor
authentication, only a right second step does (two_factor.sign_in), and its failed codes
count here too.
"""

import logging
import threading
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.signals import user_login_failed
from django.db import transaction
from django.dispatch import receiver
from django.utils import timezone, translation
from django.utils.translation import gettext

from tokens_site.access.policy import require_administrator
from tokens_site.audit import audit_event_record, client_ip
from tokens_site.language import email_language
from tokens_site.mail import email_user
from tokens_site.models import AccountLockout, AuditAction, is_bot
from two_factor.selectors import two_factor_enabled

logger = logging.getLogger(__name__)

LOCKOUT_ATTEMPTS = 10
LOCKOUT_MINUTES = 10


def account_is_locked(user) -> bool:
    lockout = AccountLockout.objects.filter(user=user).first()
    return lockout is not None and lockout.is_locked


class LockoutModelBackend(ModelBackend):
    """Django's username-and-password backend, refusing to sign in an account that is locked
    (after its password was checked, so a locked account costs the same time as any other).
    The right password, wherever it is given, forgets earlier failures. Sessions already
    signed in stay signed in: a lock stops guessing, it does not let whoever guesses throw the
    account's owner out (an administrator included, who could then not reach the admin to
    unlock)."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None or is_bot(user):  # an access token's bot never signs in
            return None
        lockout = AccountLockout.objects.filter(user=user).first()
        if lockout is not None and lockout.is_locked:
            return None
        # With two-factor authentication on, the password is only half of a sign-in: the
        # failures are forgotten after the second step (else each right password would
        # reset the count of wrong codes).
        if lockout is not None and lockout.failed_attempts and not two_factor_enabled(user):
            lockout_forget_failures(user)
        return user


def lockout_forget_failures(user) -> None:
    """A complete sign-in: earlier failures no longer count."""
    AccountLockout.objects.filter(user=user, failed_attempts__gt=0).update(
        failed_attempts=0, locked_until=None
    )


def _lockout_for_update(user) -> AccountLockout:
    AccountLockout.objects.get_or_create(user=user)  # safe against a concurrent creation
    return AccountLockout.objects.select_for_update().get(user=user)


def lockout_record_failure(user, *, ip_address: str | None = None) -> bool:
    """Count a failed sign-in of `user`; at the limit, lock the account (an audit event and an
    email to its owner). Returns whether this failure locked it. Failures while locked do not
    count: the lock is not extended by whoever keeps trying."""
    now = timezone.now()
    with transaction.atomic():
        lockout = _lockout_for_update(user)
        if lockout.is_locked:
            return False
        if lockout.locked_until is not None:  # an earlier lock ended: start afresh
            lockout.failed_attempts, lockout.locked_until = 0, None
        lockout.failed_attempts += 1
        lockout.last_failed_at = now
        locked = lockout.failed_attempts >= LOCKOUT_ATTEMPTS
        if locked:
            lockout.locked_until = now + timedelta(minutes=LOCKOUT_MINUTES)
        lockout.save()
        if locked:
            audit_event_record(
                action=AuditAction.ACCOUNT_LOCK,
                target=user,
                target_type="user",
                ip_address=ip_address,
                details={"failed_attempts": lockout.failed_attempts, "minutes": LOCKOUT_MINUTES},
            )
            transaction.on_commit(lambda: _notify_in_background(user, ip_address))
    if locked:
        logger.warning("Locked account %s after %s failed sign-ins", user, LOCKOUT_ATTEMPTS)
    return locked


def lockout_unlock(*, user, actor=None, ip_address: str | None = None) -> bool:
    """Unlock `user` and forget their failed sign-ins. False when there was nothing to undo.
    Administrators only; `actor=None` is the console (manage.py unlock)."""
    if actor is not None:
        require_administrator(actor, gettext("Only administrators can unlock accounts."))
    with transaction.atomic():
        changed = AccountLockout.objects.filter(user=user, failed_attempts__gt=0).update(
            failed_attempts=0, locked_until=None
        )
        if changed:
            audit_event_record(
                action=AuditAction.ACCOUNT_UNLOCK,
                actor=actor,
                target=user,
                target_type="user",
                ip_address=ip_address,
            )
    return bool(changed)


def _notify_in_background(user, ip_address: str | None) -> None:
    """Email the owner from a thread of its own: the answer to the attempt that locked the
    account must not wait for the mail server (it would take longer than any other refused
    attempt, telling that the account exists). The owner's language is read here (and kept on
    `user`): the thread makes no query."""
    language = email_language(user)
    threading.Thread(
        target=_notify_locked,
        args=(user, ip_address, language),
        name="lockout-email",
        daemon=True,
    ).start()


def _notify_locked(user, ip_address: str | None, language: str) -> None:
    with translation.override(language):
        email_user(
            user,
            subject=gettext("Your account has been locked"),
            template="tokens_site/email/account_locked",
            context={
                "attempts": LOCKOUT_ATTEMPTS,
                "minutes": LOCKOUT_MINUTES,
                "ip_address": ip_address or gettext("an unknown address"),
                "sign_in_url": f"{settings.EXTERNAL_URL}/users/sign_in",
            },
        )


@receiver(user_login_failed)
def count_failed_sign_in(sender, credentials, request=None, **kwargs) -> None:
    """A failed password sign-in, from any path that asks django.contrib.auth.authenticate():
    one more failure for the account it names, if there is one."""
    username = credentials.get("username")
    if not isinstance(username, str) or not username:
        return
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        return
    lockout_record_failure(user, ip_address=client_ip(request) if request is not None else None)
