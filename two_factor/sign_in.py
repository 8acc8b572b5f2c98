"""The sign-in's second step. After a right password, an account with two-factor
authentication is not signed in: the session only holds who is half-way (PENDING_*), for
PENDING_SECONDS. The second step signs in (django.contrib.auth.login) after a right code; a
wrong one counts toward the account's lockout and the address's ban like a wrong password.
Used by the site's sign-in (tokens_site.auth.views.SignInView) and the admin's
(tokens_site.admin_site)."""

import time

from django.contrib.auth import get_user_model, login
from django.shortcuts import redirect

from two_factor.selectors import two_factor_enabled

PENDING_USER = "two_factor_user_id"
PENDING_BACKEND = "two_factor_backend"
PENDING_NEXT = "two_factor_next"
PENDING_SINCE = "two_factor_since"
PENDING_SECONDS = 10 * 60
_PENDING_KEYS = (PENDING_USER, PENDING_BACKEND, PENDING_NEXT, PENDING_SINCE)


def sign_in_pending_start(request, user, *, next_url: str) -> None:
    """Remember, in a fresh session, that `user` gave the right password."""
    request.session.cycle_key()
    request.session[PENDING_USER] = user.pk
    request.session[PENDING_BACKEND] = user.backend
    request.session[PENDING_NEXT] = next_url
    request.session[PENDING_SINCE] = int(time.time())


def sign_in_pending_user(request):
    """The user half-way through signing in, or None (none, or it took too long)."""
    user_id = request.session.get(PENDING_USER)
    since = request.session.get(PENDING_SINCE, 0)
    if user_id is None:
        return None
    if time.time() - since > PENDING_SECONDS:
        sign_in_pending_clear(request)
        return None
    return get_user_model().objects.filter(pk=user_id, is_active=True).first()


def sign_in_pending_clear(request) -> None:
    for key in _PENDING_KEYS:
        request.session.pop(key, None)


def sign_in_complete(request, user) -> str:
    """Sign `user` in (a new session key) and return where to go next."""
    backend = request.session[PENDING_BACKEND]
    next_url = request.session.get(PENDING_NEXT) or "/"
    sign_in_pending_clear(request)
    login(request, user, backend=backend)
    return next_url


class SecondStepMixin:
    """For a LoginView: a user with two-factor authentication goes on to the second step
    instead of being signed in."""

    def form_valid(self, form):
        user = form.get_user()
        if not two_factor_enabled(user):
            return super().form_valid(form)
        sign_in_pending_start(self.request, user, next_url=self.get_success_url())
        return redirect("two_factor:sign_in")
