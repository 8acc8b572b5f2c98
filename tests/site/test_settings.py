"""Configuration from the environment: production refuses to start without its secrets and
passes Django's deployment checks."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean_env = {
        "PATH": os.environ["PATH"],
        "HOME": str(Path.home()),
        "ENV_FILE": "",
        "DJANGO_SETTINGS_MODULE": "tokens_site.settings",
        **env,
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=clean_env,
        capture_output=True,
        text=True,
        timeout=60,
    )


PRODUCTION = {
    "DEBUG": "off",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "TOKEN_DIGEST_KEY": secrets.token_urlsafe(50),
    "TOKEN_ENCRYPTION_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "tokens.example.com",
    "REGISTRY_SIGNING_KEY": "/etc/tokens/registry-signing-key.pem",
}


def test_production_settings_pass_the_deployment_checks(tmp_path):
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        **PRODUCTION,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_production_without_a_secret_stops_with_a_message_naming_it(tmp_path):
    env = {k: v for k, v in PRODUCTION.items() if k != "TOKEN_DIGEST_KEY"}
    result = manage("check", DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", **env)
    assert result.returncode == 1
    assert (
        "Configuration error: The environment variable TOKEN_DIGEST_KEY is not set."
        in result.stderr
    )
    assert "Traceback" not in result.stderr


def test_development_needs_no_configuration(tmp_path):
    result = manage("check", DEBUG="on", DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    assert result.returncode == 0, result.stderr


def test_database_url_selects_postgresql_and_redis_url_the_cache():
    code = (
        "from django.conf import settings; "
        "print(settings.DATABASES['default']['ENGINE']); "
        "print(settings.CACHES['default']['BACKEND'])"
    )
    result = manage(
        "shell",
        "--verbosity",
        "0",
        "-c",
        code,
        DEBUG="on",
        DATABASE_URL="postgres://user:pw@db.internal:5432/tokens",
        REDIS_URL="redis://127.0.0.1:6379/0",
    )
    assert result.stdout.split() == [
        "django.db.backends.postgresql",
        "tokens_site.cache.ReusingRedisCache",
    ], result.stderr


def test_default_cache_is_shared_between_processes_through_the_database():
    from django.conf import settings

    assert settings.CACHES["default"]["BACKEND"] == "django.core.cache.backends.db.DatabaseCache"


def test_production_without_the_registry_signing_key_stops_with_a_message_naming_it(tmp_path):
    env = {k: v for k, v in PRODUCTION.items() if k != "REGISTRY_SIGNING_KEY"}
    result = manage("check", DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", **env)
    assert result.returncode == 1
    assert (
        "Configuration error: The environment variable REGISTRY_SIGNING_KEY is not set. "
        "Production (DEBUG off) needs it: set it to the path of the PEM private key that "
        "signs container registry tokens" in result.stderr
    )
    assert "Traceback" not in result.stderr


def setting(name: str, **env: str) -> str:
    """The value of one setting as a process with this environment sees it."""
    result = manage(
        "shell",
        "--verbosity",
        "0",
        "-c",
        f"from django.conf import settings; print(settings.{name})",
        **env,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_registry_signing_key_has_a_development_default_and_relative_paths_start_at_the_project():
    assert setting("REGISTRY_SIGNING_KEY", DEBUG="on") == str(
        BASE_DIR / "var" / "registry" / "signing-key.pem"
    )
    assert setting(
        "REGISTRY_SIGNING_KEY", DEBUG="on", REGISTRY_SIGNING_KEY="var/registry/key.pem"
    ) == str(BASE_DIR / "var" / "registry" / "key.pem")
    production = {**PRODUCTION, "REGISTRY_SIGNING_KEY": "/srv/keys/registry.pem"}
    assert setting("REGISTRY_SIGNING_KEY", **production) == "/srv/keys/registry.pem"


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        (
            "TRUSTED_PROXIES",
            "10.0.0.2,not-an-ip",
            "TRUSTED_PROXIES holds 'not-an-ip', which is not an IP address or network",
        ),
        ("TRUSTED_PROXIES", "10.0.0.300", "TRUSTED_PROXIES holds '10.0.0.300'"),
        ("CONN_MAX_AGE", "abc", "CONN_MAX_AGE is 'abc'; set it to a whole number of 0 or more"),
        ("CONN_MAX_AGE", "-5", "CONN_MAX_AGE is '-5'; set it to a whole number of 0 or more"),
        (
            "LAST_USED_UPDATE_INTERVAL_SECONDS",
            "10m",
            "LAST_USED_UPDATE_INTERVAL_SECONDS is '10m'; set it to a whole number",
        ),
        (
            "INSTANCE_SETTINGS_CACHE_SECONDS",
            "soon",
            "INSTANCE_SETTINGS_CACHE_SECONDS is 'soon'; set it to a number of 0 or more",
        ),
        ("LAST_USED_UPDATE_INTERVAL_SECONDS", "nan", "LAST_USED_UPDATE_INTERVAL_SECONDS is 'nan'"),
    ],
)
@pytest.mark.parametrize("debug", ["on", "off"])
def test_a_malformed_setting_stops_with_a_message_naming_it(name, value, expected, debug):
    base = {**PRODUCTION, "DEBUG": debug}
    # CONN_MAX_AGE is read for PostgreSQL only; nothing connects to it for `check`.
    base["DATABASE_URL"] = "postgres://user:pw@db.invalid:5432/tokens"
    result = manage("check", **{**base, name: value})
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"Configuration error: The environment variable {expected}" in result.stderr
    assert "Traceback" not in result.stderr


def test_trusted_proxies_take_addresses_and_networks():
    value = setting(
        "TRUSTED_PROXY_NETWORKS",
        DEBUG="on",
        TRUSTED_PROXIES="10.0.0.2, 192.168.0.0/16,,2001:db8::/32",
    )
    assert value == (
        "[IPv4Network('10.0.0.2/32'), IPv4Network('192.168.0.0/16'), IPv6Network('2001:db8::/32')]"
    )
