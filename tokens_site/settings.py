"""Settings, read only from the environment (and a `.env` file when present).

With DEBUG on, every secret has a working default so a developer needs no configuration.
With DEBUG off (production), a missing secret stops the process at start with a message
naming the variable; so does a malformed value, in any mode.
"""

import ipaddress
from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
# Variables already in the environment win over the file. ENV_FILE names another file, or,
# set empty, turns the file off.
ENV_FILE = env.str("ENV_FILE", default=str(BASE_DIR / ".env"))
if ENV_FILE:
    environ.Env.read_env(ENV_FILE, overwrite=False)

DEBUG = env.bool("DEBUG", default=False)


def secret(name: str) -> str:
    """A secret from the environment; a development default only when DEBUG is on."""
    value = env.str(name, default="")
    if value:
        return value
    if DEBUG:
        return f"insecure-development-{name.lower()}-do-not-use-in-production"
    raise ImproperlyConfigured(
        f"The environment variable {name} is not set. Production (DEBUG off) needs it: "
        f"set it to a long random string, e.g. the output of "
        f"`python -c 'import secrets; print(secrets.token_urlsafe(50))'`."
    )


def setting_error(name: str, problem: str) -> ImproperlyConfigured:
    """Reported as `Configuration error: The environment variable NAME ...` by manage.py and
    the WSGI entry point, without a traceback."""
    return ImproperlyConfigured(f"The environment variable {name} {problem}")


def number(name: str, default: int | float) -> int | float:
    """A whole number (or any number, when `default` is a float) of 0 or more."""
    raw = env.str(name, default="").strip()
    if not raw:
        return default
    kind, noun = (int, "a whole number") if isinstance(default, int) else (float, "a number")
    try:
        value = kind(raw)
    except ValueError:
        value = None
    if value is None or not 0 <= value < float("inf"):
        raise setting_error(name, f"is {raw!r}; set it to {noun} of 0 or more, e.g. {default}.")
    return value


def path_setting(name: str, development_default: Path, needed_for: str) -> Path:
    """A file path, relative ones from the project directory. Production (DEBUG off) needs it
    set; development falls back to `development_default`."""
    value = env.str(name, default="")
    if not value:
        if DEBUG:
            return development_default
        raise setting_error(
            name,
            f"is not set. Production (DEBUG off) needs it: set it to the path of {needed_for}.",
        )
    path = Path(value)
    return path if path.is_absolute() else BASE_DIR / path


def networks(name: str, *, words: tuple[str, ...] = ()) -> list:
    """Comma-separated IP addresses or networks (and any of `words`, left out here)."""
    found = []
    for value in env.list(name, default=[]):
        if not value.strip() or value.strip() in words:
            continue
        try:
            found.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise setting_error(
                name,
                f"holds {value.strip()!r}, which is not an IP address or network; set it to "
                f"addresses or networks separated by commas, e.g. 10.0.0.2,192.168.0.0/16.",
            ) from None
    return found


SECRET_KEY = secret("SECRET_KEY")
# HMAC-SHA256 key for token digests; deliberately separate from SECRET_KEY.
TOKEN_DIGEST_KEY = secret("TOKEN_DIGEST_KEY")
# Key for the one token kind kept encrypted (the `gitlab-deploy-token` handed to CI).
TOKEN_ENCRYPTION_KEY = secret("TOKEN_ENCRYPTION_KEY")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])

INSTALLED_APPS = [
    "tokens_site.admin_apps.TokensAdminConfig",  # django.contrib.admin, with our sign-in
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "csp",  # the Content-Security-Policy header; its system checks
    "rest_framework",  # /api/v4 (tokens_site.api)
    "drf_spectacular",  # its OpenAPI document
    "drf_spectacular_sidecar",  # Swagger UI's files, for the API's doc page
    "tokens_site",
    "tokens_site.packages",
    "deploy_tokens",
    "personal_tokens",
    "access_tokens",
    "django_otp",
    "django_otp.plugins.otp_totp",  # the authenticator-app devices of two_factor
    "two_factor",
]

MIDDLEWARE = [
    # Each request starts in English and leaves no language behind (tokens_site.language).
    "tokens_site.language.ResetLanguageMiddleware",
    # Then, so that every response carries the Content-Security-Policy, early refusals too.
    "csp.middleware.CSPMiddleware",
    "tokens_site.middleware.RejectNulMiddleware",
    "tokens_site.api.middleware.ApiRawPathMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The browser's language (cookie, then Accept-Language); LanguageMiddleware below puts a
    # user's preference or a `?language=` over it, and English for the REST API.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "tokens_site.language.LanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Required two-factor authentication: the reminder, then the redirect to the set-up.
    "two_factor.enforcement.TwoFactorEnforcementMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "tokens_site.urls"
WSGI_APPLICATION = "tokens_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "two_factor.enforcement.requirement_context",
            ],
        },
    },
]

# Database: SQLite file by default; DATABASE_URL=postgres://... selects PostgreSQL.
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # Several gunicorn workers share the file: WAL lets readers and one writer coexist,
    # IMMEDIATE transactions avoid "database is locked" on upgrade from read to write.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", number("CONN_MAX_AGE", 60))
    # A health check would cost a query per request; a connection that died is replaced at
    # the end of the request that found it broken.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = False

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Cache: shared by every server process. Redis when REDIS_URL is set, else a database table
# (created by the migrations), never per-process memory. Nothing that must not be lost lives
# in it: bans, failure counters and form keys have tables of their own (tokens_site.auth.store).
REDIS_URL = env.str("REDIS_URL", default="")
# Every key this site writes to Redis starts with this: several sites can share one Redis.
REDIS_KEY_PREFIX = env.str("REDIS_KEY_PREFIX", default="tokens:")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "tokens_site.cache.ReusingRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": REDIS_KEY_PREFIX,
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "tokens_site_cache",
        }
    }

# Email: console by default; EMAIL_URL=smtp://user:pass@host:587 (or smtp+tls://...) for a server.
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="tokens@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Backends that produce users: the password, refusing accounts locked after failed sign-ins.
# Tokens are not users' sessions: the endpoints' authentication pipeline (tokens_site.auth)
# has one authenticator per credential kind.
AUTHENTICATION_BACKENDS = ["tokens_site.auth.lockout.LockoutModelBackend"]

# Two-factor authentication (two_factor, on django-otp): the issuer authenticator apps show.
# django-otp's own throttling is off: a failed code counts toward the account's lockout and
# the address's ban instead, like a failed password (tokens_site.auth.lockout, .bans).
OTP_TOTP_ISSUER = "Tokens"
OTP_TOTP_THROTTLE_FACTOR = 0
# The window stays one step either way of the clock: django-otp would otherwise move it after
# each code toward the app's drift.
OTP_TOTP_SYNC = False

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "sign_in"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "sign_in"

# The site's languages (locale/README.md): English, and the seeds' Chinese, Japanese and Korean.
# A visitor gets their browser's (Accept-Language), a user their preference (profile page);
# the REST API always answers in English (tokens_site.language).
LANGUAGE_CODE = "en"
LANGUAGES = [
    ("en", "English"),
    ("zh-hans", "简体中文"),
    ("ja", "日本語"),
    ("ko", "한국어"),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
# English dates as the pages always showed them ("Nov 25, 2026"); the others are Django's.
FORMAT_MODULE_PATH = ["tokens_site.formats"]
LANGUAGE_COOKIE_SAMESITE = "Lax"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "tokens_site" / "static"]
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # The package registry's files (PyPI, generic, npm, NuGet): MEDIA_ROOT by default; any
    # Django storage by configuration, e.g. S3 with django-storages (README, Packages).
    "packages": {
        "BACKEND": env.str(
            "PACKAGES_STORAGE_BACKEND", default="django.core.files.storage.FileSystemStorage"
        ),
        "OPTIONS": env.json("PACKAGES_STORAGE_OPTIONS", default={}),
    },
    # The dependency proxy's cached blobs.
    "dependency_proxy": {
        "BACKEND": env.str(
            "DEPENDENCY_PROXY_STORAGE_BACKEND",
            default="django.core.files.storage.FileSystemStorage",
        ),
        "OPTIONS": env.json("DEPENDENCY_PROXY_STORAGE_OPTIONS", default={}),
    },
    # Git LFS objects: the same, by their own variables.
    "lfs": {
        "BACKEND": env.str(
            "LFS_STORAGE_BACKEND", default="django.core.files.storage.FileSystemStorage"
        ),
        "OPTIONS": env.json("LFS_STORAGE_OPTIONS", default={}),
    },
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# The site's address as users reach it (links in emails, registry realm).
EXTERNAL_URL = env.str("EXTERNAL_URL", default="http://127.0.0.1:8000").rstrip("/")

# How long a server process reuses its copy of the instance settings before reading them again.
INSTANCE_SETTINGS_CACHE_SECONDS = number("INSTANCE_SETTINGS_CACHE_SECONDS", 10.0)

# A personal access token's "last used" time is written at most this often.
LAST_USED_UPDATE_INTERVAL_SECONDS = number("LAST_USED_UPDATE_INTERVAL_SECONDS", 600)

# The container registry's token service (/jwt/auth). The key file is created on first use
# when it does not exist; `manage.py registry_config` prints the registry's matching settings.
REGISTRY_SIGNING_KEY = path_setting(
    "REGISTRY_SIGNING_KEY",
    VAR_DIR / "registry" / "signing-key.pem",
    needed_for="the PEM private key that signs container registry tokens, e.g. "
    "/etc/tokens/registry-signing-key.pem (a key is created there on first use if the file "
    "does not exist yet)",
)
REGISTRY_ISSUER = env.str("REGISTRY_ISSUER", default="tokens-site")
REGISTRY_SERVICE = env.str("REGISTRY_SERVICE", default="container_registry")
# The dependency proxy (tokens_site.dependency_proxy): its token service name, its upstream
# registry (the instance setting's default) and the credentials for it, if any.
DEPENDENCY_PROXY_SERVICE = "dependency_proxy"
DEPENDENCY_PROXY_UPSTREAM_URL = env.str(
    "DEPENDENCY_PROXY_UPSTREAM_URL", default="https://registry-1.docker.io"
).rstrip("/")
DEPENDENCY_PROXY_UPSTREAM_USERNAME = env.str("DEPENDENCY_PROXY_UPSTREAM_USERNAME", default="")
DEPENDENCY_PROXY_UPSTREAM_PASSWORD = env.str("DEPENDENCY_PROXY_UPSTREAM_PASSWORD", default="")
DEPENDENCY_PROXY_TIMEOUT_SECONDS = number("DEPENDENCY_PROXY_TIMEOUT_SECONDS", 10.0)
# The registry as users and this site reach it (e.g. https://registry.example.com), for the
# project pages; empty when there is none.
REGISTRY_URL = env.str("REGISTRY_URL", default="").rstrip("/")
if REGISTRY_URL and not REGISTRY_URL.startswith(("http://", "https://")):
    raise ImproperlyConfigured(
        f"REGISTRY_URL must start with http:// or https://, not {REGISTRY_URL!r}."
    )

# Bare git repositories of projects live here, one per project.
REPOSITORIES_ROOT = Path(env.str("REPOSITORIES_ROOT", default=str(VAR_DIR / "repositories")))
# The Git caches (REPOSITORIES_ROOT/.cache; sizes in the instance settings) write nothing while
# the disk has less than this free: the space pushes need comes first.
GIT_CACHE_MIN_FREE_MB = env.int("GIT_CACHE_MIN_FREE_MB", default=1024)

# HTTPS: on by default in production. It turns on the redirect to https, secure cookies and
# HSTS. Set HTTPS=off only to serve plain http on a trusted network (e.g. loopback).
HTTPS = env.bool("HTTPS", default=not DEBUG)
LANGUAGE_COOKIE_SECURE = HTTPS
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
# Content-Security-Policy (django-csp) on every response: scripts, styles, images, fonts and
# form posts only from this site, no inline script or style, no plugins, no <base>, never in a
# frame. The site's pages keep their script in site.js and their styles in site.css, and the
# Django admin needs no exception. Non-HTML answers (API, Git, files) carry it too: their
# clients ignore it, and a browser opening one directly runs no inline script from it.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    }
}
if HTTPS:
    # The reverse proxy in front of gunicorn must set (and never pass through) this header.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = 31_536_000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# Reverse proxies in front of gunicorn (addresses or networks, comma-separated). Requests from
# them are attributed to the client in X-Forwarded-For (audit log, failed-authentication ban).
TRUSTED_PROXY_NETWORKS = networks("TRUSTED_PROXIES", words=("unix",))
# `unix` among them: requests on gunicorn's unix socket (which have no peer address) come from
# the proxy.
TRUSTED_UNIX_SOCKET_PROXY = "unix" in [
    value.strip() for value in env.list("TRUSTED_PROXIES", default=[])
]

# A refused request (400, 403, 404, ...) is logged in one line, without the traceback Django
# attaches to it; server errors (500 and up) keep theirs.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {
        "client_errors_in_one_line": {"()": "tokens_site.logging_filters.ClientErrorsInOneLine"}
    },
    # On the handler: also for django.security.* (a bad Host header, too many fields), whose
    # records reach it from loggers of their own; on django.request: for every handler.
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["client_errors_in_one_line"],
        }
    },
    "loggers": {"django.request": {"filters": ["client_errors_in_one_line"]}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}

# The REST API (tokens_site.api): the one authentication pipeline, token scopes, GitLab's
# bodies, errors and pagination; JSON only.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["tokens_site.api.authentication.PipelineAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["tokens_site.api.permissions.TokenScopes"],
    "DEFAULT_PARSER_CLASSES": [
        "tokens_site.api.parsers.JSONParser",
        "tokens_site.api.parsers.FormParser",
        "tokens_site.api.parsers.MultiPartParser",
    ],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "tokens_site.api.exceptions.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "tokens_site.api.schema.ApiSchema",
    "URL_FORMAT_OVERRIDE": None,
    "DEFAULT_METADATA_CLASS": None,  # OPTIONS is a 405, as on GitLab
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

# The API's OpenAPI 3 document (/api/v4/openapi.json) and its doc page (/api/v4/docs).
SPECTACULAR_SETTINGS = {
    "TITLE": "Tokens REST API v4",
    "DESCRIPTION": (
        "GitLab's REST API v4, the part about groups, projects, members and machine "
        "credentials. Authenticate with a personal access token: `PRIVATE-TOKEN: <token>`, "
        "`Authorization: Bearer <token>` or `?private_token=<token>`. Each operation lists the "
        "token scopes it needs (`x-token-scopes`)."
    ),
    "VERSION": "4",
    "SCHEMA_PATH_PREFIX": "/api/v4",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}
