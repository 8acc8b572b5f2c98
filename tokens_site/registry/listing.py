"""What the registry holds for a project (or below a group), read from the registry's own API
with a token this site signs for itself (the catalog, then each repository's tags)."""

import json
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import quote, urlencode

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
def _get(path: str, access: list[dict], *, missing: dict | None = None) -> dict:
    """The registry's JSON answer to GET `path`; `missing` when it answers 404 and one is
    given (the tags of a repository that has none)."""
    token, _ = sign("tokens-site", access)
    # REGISTRY_URL is checked to be http(s) in the settings.
    request = urllib.request.Request(f"{settings.REGISTRY_URL.rstrip('/')}{path}")  # noqa: S310
    request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            return json.load(response)
    except urllib.error.HTTPError as error:
        if error.code == HTTPStatus.NOT_FOUND and missing is not None:
            return missing
        _report_unavailable(error)
        raise RegistryUnavailable(str(error)) from error
    except (OSError, ValueError) as error:
        _report_unavailable(error)
        raise RegistryUnavailable(str(error)) from error


def _report_unavailable(error: Exception) -> None:
    logger.warning("The container registry at %s did not answer: %s", settings.REGISTRY_URL, error)


def _catalog_below(full_path: str) -> list[str]:
    """The names of the repositories at `full_path` and below it, from every page of the
    catalog (`last` is the name a page ends with; a page shorter than asked is the last)."""
    prefix = full_path.lower()
    access = [{"type": "registry", "name": "catalog", "actions": ["*"]}]
    names: list[str] = []
    last = ""
    while True:
        query = urlencode({"n": CATALOG_PAGE, **({"last": last} if last else {})})
        page = _get(f"/v2/_catalog?{query}", access).get("repositories") or []
        names += [name for name in page if name == prefix or name.startswith(prefix + "/")]
        if len(page) < CATALOG_PAGE or page[-1] == last:
            return names  # the end (or a registry that ignores `last`: the same page again)
        last = page[-1]


def _tags(name: str) -> list[str]:
    access = [{"type": "repository", "name": name, "actions": ["pull"]}]
    return sorted(_get(f"/v2/{quote(name)}/tags/list", access, missing={}).get("tags") or [])


def repositories_below(full_path: str) -> list[Repository]:
    """The repositories at `full_path` (a project's: its path, and images below it; a
    group's: those of every project below it) with their tags."""
    return [Repository(name=name, tags=_tags(name)) for name in _catalog_below(full_path)]


def project_repositories(project: Project) -> list[Repository]:
    """The project's repositories (its path, and images below it) with their tags."""
    return repositories_below(project.full_path)


def first_tagged_image_below(full_path: str) -> str | None:
    """The name of one repository at or below `full_path` that holds a tag, or None: the
    catalog, then each repository's tags until one has some."""
    return next((name for name in _catalog_below(full_path) if _tags(name)), None)
