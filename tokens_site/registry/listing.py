"""What the registry holds for a project, read from the registry's own API with a token this
site signs for itself (the catalog, then each repository's tags)."""

import json
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import quote

from django.conf import settings
from django.views.decorators.debug import sensitive_variables

from tokens_site.models import Project
from tokens_site.registry.service import sign

logger = logging.getLogger(__name__)
TIMEOUT_SECONDS = 3
CATALOG_PAGE = 1000


@dataclass
class Repository:
    name: str
    tags: list[str]


class RegistryUnavailable(Exception):
    pass


@sensitive_variables()
def _get(path: str, access: list[dict]) -> dict:
    token, _ = sign("tokens-site", access)
    # REGISTRY_URL is checked to be http(s) in the settings.
    request = urllib.request.Request(f"{settings.REGISTRY_URL.rstrip('/')}{path}")  # noqa: S310
    request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            return json.load(response)
    except (OSError, ValueError, urllib.error.URLError) as error:
        logger.warning(
            "The container registry at %s did not answer: %s", settings.REGISTRY_URL, error
        )
        raise RegistryUnavailable(str(error)) from error


def project_repositories(project: Project) -> list[Repository]:
    """The project's repositories (its path, and images below it) with their tags."""
    prefix = project.full_path.lower()
    catalog = _get(
        f"/v2/_catalog?n={CATALOG_PAGE}",
        [{"type": "registry", "name": "catalog", "actions": ["*"]}],
    )
    names = [
        name
        for name in catalog.get("repositories") or []
        if name == prefix or name.startswith(prefix + "/")
    ]
    if not names:
        return []
    access = [{"type": "repository", "name": name, "actions": ["pull"]} for name in names]
    return [
        Repository(
            name=name,
            tags=sorted(_get(f"/v2/{quote(name)}/tags/list", access).get("tags") or []),
        )
        for name in names
    ]
