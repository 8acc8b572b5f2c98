import shutil

import pytest


@pytest.fixture(autouse=True)
def isolated_repositories(settings, tmp_path):
    """Each test gets its own directory of repositories (and of uploaded files)."""
    settings.REPOSITORIES_ROOT = tmp_path / "repositories"
    settings.MEDIA_ROOT = tmp_path / "media"


def pytest_sessionfinish(session, exitstatus):
    """Remove the run directory test_settings made for this run (test database, static)."""
    from django.conf import settings

    if getattr(settings, "TEST_RUN_DIR_CREATED", False):
        shutil.rmtree(settings.TEST_RUN_DIR, ignore_errors=True)


from tests.roles import world  # noqa: E402,F401  (the permission-matrix fixture)
