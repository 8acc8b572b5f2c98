import shutil

import pytest


@pytest.fixture(autouse=True)
def isolated_state(settings, tmp_path):
    """Each test gets its own directory of repositories (and of uploaded files), and reads the
    instance settings afresh (a test's changes roll back with its transaction)."""
    from tokens_site import http_auth
    from tokens_site.models import InstanceSettings

    settings.REPOSITORIES_ROOT = tmp_path / "repositories"
    settings.MEDIA_ROOT = tmp_path / "media"
    InstanceSettings.forget()
    http_auth._not_banned.clear()
    yield
    InstanceSettings.forget()


def pytest_sessionfinish(session, exitstatus):
    """Remove the run directory test_settings made for this run (test database, static)."""
    from django.conf import settings

    if getattr(settings, "TEST_RUN_DIR_CREATED", False):
        shutil.rmtree(settings.TEST_RUN_DIR, ignore_errors=True)


from tests.roles import world  # noqa: E402,F401  (the permission-matrix fixture)
