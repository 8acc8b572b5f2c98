"""Which language answers (locale/README.md).

Pages: a `?language=` on any page (the sign-in page's links; kept in the language cookie),
else a signed-in user's preference (the profile page and the avatar menu, stored in
UserPreferences and copied into the session at sign-in, so a page costs no query for it; a
change made in another browser reaches this one at its next sign-in), else the browser's:
Django's LocaleMiddleware (the cookie, then Accept-Language). Anything unknown or malformed
is passed over: English in the end, never an error. The REST API (Django REST framework's
views) always answers in English: its JSON is for programs. Tools' refusals (Git's `remote:`
lines, a 401/403's reason) follow the token owner's preference once the credential is known
(`activate_for`), else Accept-Language."""

from django.conf import settings
from django.http import HttpResponseRedirect
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

LANGUAGE_PARAMETER = "language"
SESSION_KEY = "_language"


def supported(code: object) -> str:
    """`code` if it names one of the site's languages (any case, `_` or `-`), else ""."""
    if not isinstance(code, str) or len(code) > 16:
        return ""
    wanted = code.strip().lower().replace("_", "-")
    return next((known for known, _ in settings.LANGUAGES if known == wanted), "")


def language_of(user) -> str:
    """The language `user` chose, or "" (none chosen, anonymous, or no user)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return ""
    try:
        return supported(user.preferences.language)
    except user.__class__.preferences.RelatedObjectDoesNotExist:
        return ""


def email_language(user) -> str:
    """The language of an email to `user`: their choice, else the site's default (English)."""
    return language_of(user) or settings.LANGUAGE_CODE


def activate_for(user) -> None:
    """Answer the rest of this request in `user`'s language, if they chose one (a token's
    owner, known once the credential is checked)."""
    language = language_of(user)
    if language:
        translation.activate(language)


class ResetLanguageMiddleware:
    """First of all: each request starts in the site's default language and leaves none
    behind, so an answer made before LocaleMiddleware (a refused URL) or after a token
    owner's language was taken on (`activate_for`) never carries the previous request's."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        translation.activate(settings.LANGUAGE_CODE)
        try:
            return self.get_response(request)
        finally:
            translation.deactivate()


def shell_language(environ) -> str:
    """The site's language closest to a shell's locale (LANGUAGE, LC_ALL, LC_MESSAGES, LANG:
    "ja_JP.UTF-8" is ja, "zh_CN" is zh-hans), or "": what `manage.py` speaks."""
    from django.utils.translation import get_supported_language_variant

    for name in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        for value in environ.get(name, "").split(":"):
            code = value.split(".")[0].split("@")[0].replace("_", "-").lower()
            if not code or code in ("c", "posix"):
                continue
            try:
                return get_supported_language_variant(code)
            except LookupError:
                continue
        if environ.get(name):
            return ""
    return ""


def is_rest_api(view_func) -> bool:
    from rest_framework.views import APIView

    view_class = getattr(view_func, "cls", None)
    return isinstance(view_class, type) and issubclass(view_class, APIView)


def session_language(request) -> str:
    """The preference kept in the session, if the request has one: a request without a session
    cookie (git, pip, npm…) is not made to `Vary: Cookie` by looking."""
    session = getattr(request, "session", None)
    if session is None or settings.SESSION_COOKIE_NAME not in request.COOKIES:
        return ""
    return session.get(SESSION_KEY, "")


class LanguageMiddleware:
    """After AuthenticationMiddleware and Django's LocaleMiddleware: see the module."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        asked = supported(request.GET.get(LANGUAGE_PARAMETER))
        chosen = asked or supported(session_language(request))
        if chosen:
            translation.activate(chosen)
            request.LANGUAGE_CODE = chosen
        response = self.get_response(request)
        if asked and not getattr(request, "rest_api", False):
            set_language_cookie(response, asked)
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        if is_rest_api(view_func):
            request.rest_api = True
            translation.activate(settings.LANGUAGE_CODE)
            request.LANGUAGE_CODE = settings.LANGUAGE_CODE


def set_language_cookie(response, language: str) -> None:
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )


@require_POST
def language_set(request):
    """The language switcher (avatar menu, profile page, sign-in page): POST `language` (one of
    the site's, or empty for the browser's) and `next`. Kept in the cookie; a signed-in user's
    choice is stored too, so their emails follow it."""
    from tokens_site.models import UserPreferences

    language = supported(request.POST.get(LANGUAGE_PARAMETER))
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = "/"
    response = HttpResponseRedirect(target)
    if request.user.is_authenticated:
        UserPreferences.objects.update_or_create(user=request.user, defaults={"language": language})
        request.session[SESSION_KEY] = language
    if language:
        set_language_cookie(response, language)
    else:
        response.delete_cookie(settings.LANGUAGE_COOKIE_NAME, path=settings.LANGUAGE_COOKIE_PATH)
    return response


def remember_on_sign_in(sender, request, user, **kwargs) -> None:
    """user_logged_in: the user's preference into their new session (see the module)."""
    language = language_of(user)
    if language and hasattr(request, "session"):
        request.session[SESSION_KEY] = language
