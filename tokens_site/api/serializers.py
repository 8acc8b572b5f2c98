"""GitLab's JSON shapes. Functions over lists take what a list needs in one pass (no query per
item): group names along a path are fetched once for the whole page."""

from django.conf import settings
from django.urls import reverse
from django.views.decorators.debug import sensitive_variables

from deploy_tokens.models import DeployToken
from personal_tokens.models import PersonalAccessToken
from tokens_site.models import Group, Membership, Project


def _url(path: str) -> str:
    return settings.EXTERNAL_URL + path


def _time(value) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def _date(value) -> str | None:
    return value.isoformat() if value else None


def _midnight(value) -> str | None:
    """A date as GitLab sends a deploy token's expiry: 00:00 UTC of that day, when it stops
    working (`2020-02-14T00:00:00.000Z`)."""
    return f"{value.isoformat()}T00:00:00.000Z" if value else None


def user(account, *, full: bool = False) -> dict:
    data = {
        "id": account.pk,
        "username": account.username,
        "name": account.get_full_name() or account.username,
        "state": "active" if account.is_active else "blocked",
        "locked": False,
        "avatar_url": None,
        "web_url": _url(f"/{account.username}"),
    }
    if full:
        data.update(
            created_at=_time(account.date_joined),
            email=account.email,
            is_admin=account.is_superuser,
            last_sign_in_at=_time(account.last_login),
        )
    return data


def group_names(groups) -> dict[int, str]:
    """Group id → "Top / Sub / Group" for these groups and their ancestors, in one query."""
    ids = {ancestor for group in groups for ancestor in group.ancestor_ids}
    names = dict(Group.objects.filter(pk__in=ids).values_list("pk", "name"))
    return {
        group.pk: " / ".join(names.get(ancestor, "?") for ancestor in group.ancestor_ids)
        for group in groups
    }


def group(item: Group, names: dict[int, str]) -> dict:
    return {
        "id": item.pk,
        "name": item.name,
        "path": item.path,
        "description": item.description,
        "visibility": item.visibility,
        "full_name": names[item.pk],
        "full_path": item.full_path,
        "parent_id": item.parent_id,
        "created_at": _time(item.created_at),
        "web_url": _url(reverse("group", args=[item.full_path])),
        "avatar_url": None,
    }


def groups(items: list[Group]) -> list[dict]:
    names = group_names(items)
    return [group(item, names) for item in items]


def project(item: Project, names: dict[int, str]) -> dict:
    namespace = item.group
    return {
        "id": item.pk,
        "name": item.name,
        "path": item.path,
        "description": item.description,
        "visibility": item.visibility,
        "name_with_namespace": f"{names[namespace.pk]} / {item.name}",
        "path_with_namespace": item.full_path,
        "created_at": _time(item.created_at),
        "default_branch": "main",
        "web_url": _url(reverse("project", args=[item.full_path])),
        "http_url_to_repo": _url(f"/{item.full_path}.git"),
        "namespace": {
            "id": namespace.pk,
            "name": namespace.name,
            "path": namespace.path,
            "kind": "group",
            "full_path": namespace.full_path,
            "parent_id": namespace.parent_id,
            "web_url": _url(reverse("group", args=[namespace.full_path])),
        },
    }


def projects(items: list[Project]) -> list[dict]:
    names = group_names([item.group for item in items])
    return [project(item, names) for item in items]


def member(membership: Membership) -> dict:
    return {
        **user(membership.user),
        "access_level": membership.access_level,
        "created_at": _time(membership.created_at),
        "expires_at": None,
        "membership_state": "active",
    }


@sensitive_variables()
def deploy_token(token: DeployToken, *, plaintext: str | None = None) -> dict:
    data = {
        "id": token.pk,
        "name": token.name,
        "username": token.username,
        "expires_at": _midnight(token.expires_at),
        "scopes": token.scopes,
        "revoked": token.revoked,
        "expired": token.is_expired,
    }
    if plaintext is not None:
        data["token"] = plaintext
    return data


@sensitive_variables()
def personal_token(token: PersonalAccessToken, *, plaintext: str | None = None) -> dict:
    data = {
        "id": token.pk,
        "name": token.name,
        "revoked": token.revoked,
        "created_at": _time(token.created_at),
        "description": "",
        "scopes": token.scopes,
        "user_id": token.user_id,
        "last_used_at": _time(token.last_used_at),
        "active": token.is_active,
        "expires_at": _date(token.expires_at),
    }
    if plaintext is not None:
        data["token"] = plaintext
    return data
