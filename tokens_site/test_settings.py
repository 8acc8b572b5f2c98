"""Settings for the test suite: the real settings with fixed test secrets, a fast password
hasher, and a SQLite test database in a file (so live servers in other processes share it)."""

import os
import tempfile
from pathlib import Path

# One directory per test run (test database, static files), shared with the servers the
# tests start; removed at the end of the run when this process made it.
TEST_RUN_DIR_CREATED = "TOKENS_TEST_RUN_DIR" not in os.environ
if TEST_RUN_DIR_CREATED:
    os.environ["TOKENS_TEST_RUN_DIR"] = tempfile.mkdtemp(prefix="tokens-test-")
TEST_RUN_DIR = Path(os.environ["TOKENS_TEST_RUN_DIR"])

# A developer's .env (from `./dev serve`) must not leak into the tests.
os.environ["ENV_FILE"] = ""

for _name in ("SECRET_KEY", "TOKEN_DIGEST_KEY", "TOKEN_ENCRYPTION_KEY"):
    os.environ.setdefault(_name, f"test-{_name.lower()}-0123456789abcdefghijklmnopqrstuvwxyz")
os.environ.setdefault("HTTPS", "off")
os.environ.setdefault("REPOSITORIES_ROOT", str(TEST_RUN_DIR / "repositories"))
os.environ.setdefault("MEDIA_ROOT", str(TEST_RUN_DIR / "media"))
os.environ.setdefault("REGISTRY_SIGNING_KEY", str(TEST_RUN_DIR / "registry-signing-key.pem"))

from tokens_site.settings import *  # noqa: E402,F403
from tokens_site.settings import DATABASES  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
if "EMAIL_URL" not in os.environ:  # a test may send a process's mail elsewhere
    EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
WHITENOISE_USE_FINDERS = True

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["TEST"] = {"NAME": str(TEST_RUN_DIR / "test.sqlite3")}

STATIC_ROOT = TEST_RUN_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
