"""What a found token is, and revoking it (issue 17): for the `find_tokens` command and the
administrators' token information API (and page).

The tokens found by tokens_site.token_scan are looked up by their digests, one query per kind
(personal and access tokens are personal access tokens; deploy tokens their own table). Each is
described the same way whatever its kind: its kind, owner, scopes, state, dates and last
addresses. Finding and revoking are audited; an owner whose token is revoked this way is told
where it was found and by whom (the people the expiry notices tell: tokens_site.expiry_notices).
"""

import re

from django.db import transaction
from django.db.models import prefetch_related_objects
from django.utils import translation
from django.utils.translation import gettext, gettext_noop, pgettext
from django.views.decorators.debug import sensitive_variables

from tokens_site.audit import audit_event_record
from tokens_site.expiry_notices import kind
from tokens_site.language import email_language
from tokens_site.mail import email_user
from tokens_site.models import AuditAction, Bot, Project
from tokens_site.token_scan import Found, scan
from tokens_site.tokens import DEPLOY_TOKEN_PREFIX, token_digest, token_is_well_formed

_ID = re.compile(r"[0-9]{1,18}")
# Where the REST API finds tokens (its `where`, tokens_site.api.views): English in the audit
# log, translated in the owner's email as the other places are (`gettext(where)`).
API_WHERE = gettext_noop("the token information API")


def _tables() -> dict:
    """The two tables tokens live in ("deploy"; "personal": personal and access tokens), with
    what describing a token reads."""
    from deploy_tokens.models import DeployToken
    from personal_tokens.models import PersonalAccessToken

    return {
        "deploy": DeployToken.objects.select_related("project", "group"),
        "personal": PersonalAccessToken.objects.select_related(
            "user__bot__project", "user__bot__group"
        ),
    }


def identify(found: list[Found]) -> list[Found]:
    """Set each found token's `record` (None: not this instance's), in two queries at most."""
    for table, records in _tables().items():
        items = [f for f in found if (f.prefix == DEPLOY_TOKEN_PREFIX) == (table == "deploy")]
        if not items:
            continue
        by_digest = {token_digest(f.value): f for f in items}
        for record in records.filter(token_digest__in=list(by_digest)):
            by_digest[record.token_digest].record = record
    return found


def with_digests(digests: set[str]) -> list:
    """The tokens of any kind stored with these digests, one query per table."""
    return [
        record
        for records in _tables().values()
        for record in records.filter(token_digest__in=sorted(digests))
    ]


@sensitive_variables("value")
def lookup(value: str):
    """The token with exactly this value, of any kind, or None: decided in memory where the
    value cannot be one (tokens.token_is_well_formed, could_be_personal_token), else one
    lookup by its digest. Unlike `scan`, a predetermined personal value is found too."""
    from personal_tokens.rules import could_be_personal_token

    if token_is_well_formed(value, DEPLOY_TOKEN_PREFIX):
        prefix = DEPLOY_TOKEN_PREFIX
    elif could_be_personal_token(value):
        prefix = ""  # the personal table
    else:
        return None
    [found] = identify([Found(value=value, prefix=prefix, line=1)])
    return found.record


@sensitive_variables()  # the scan's frames below too
def find(text: str, *, actor, where: str, ip_address: str | None = None) -> list[Found]:
    """The tokens in `text` (tokens_site.token_scan), each of this instance's with its record;
    each find is audited (`where`: the page, the command, the API)."""
    found = identify(scan(text))
    for item in found:
        if item.record is not None:
            record_find(item.record, actor=actor, where=where, ip_address=ip_address)
    return found


def reference(record) -> str:
    """ "deploy:12" or "personal:34": a token by its table and id (the admin page's forms)."""
    return f"{'deploy' if kind_of(record) == 'deploy' else 'personal'}:{record.pk}"


def by_references(references: list[str]) -> dict:
    """The tokens these references name (ignoring malformed ones), one query per table."""
    ids: dict[str, set[int]] = {"deploy": set(), "personal": set()}
    for ref in references:
        table, _, pk = ref.partition(":")
        if table in ids and _ID.fullmatch(pk):
            ids[table].add(int(pk))
    found = {}
    for table, records in _tables().items():
        if ids[table]:
            for record in records.filter(pk__in=ids[table]):
                found[f"{table}:{record.pk}"] = record
    return found


def kind_of(record) -> str:
    """The notice kind's label: "personal", "access" or "deploy"."""
    if hasattr(record, "username"):
        return "deploy"
    return "access" if _bot(record) is not None else "personal"


def _bot(record) -> Bot | None:
    try:
        return record.user.bot
    except Bot.DoesNotExist:
        return None


def state_of(record) -> str:
    why = record.ended_by
    if why is not None:
        return why
    if record.works_until is not None or record.previous_works:
        return "rotating"
    return "active"


def describe(record) -> dict:
    """The token's details, the same for every kind (never its value)."""
    label = kind_of(record)
    if label == "deploy":
        kind, owner = "deploy token", record.owner_label
    elif label == "access":
        source = _bot(record).source
        where = "project" if isinstance(source, Project) else "group"
        kind = f"{where} access token"
        owner = f"{where} {source.full_path}" if source is not None else "deleted"
    else:
        kind, owner = "personal access token", f"user {record.user.get_username()}"
    return {
        "id": record.pk,
        "kind": kind,
        "name": record.name,
        "owner": owner,
        "scopes": list(record.scopes),
        "state": state_of(record),
        "created_at": record.created_at,
        "expires_at": record.expires_at,
        "last_used_at": record.last_used_at,
        "last_used_ips": list(record.last_used_ips or []),
    }


def in_words(record) -> dict:
    """describe()'s kind, owner and state in the current language, for people (the admin's
    page, the owner's email); describe() stays English (the REST API, the command's lines)."""
    label = kind_of(record)
    source = None
    if label == "deploy":
        kind, source = gettext("deploy token"), record.owner
    elif label == "access":
        source = _bot(record).source
        if isinstance(source, Project):
            kind = gettext("project access token")
        else:
            kind = gettext("group access token")
    else:
        kind = gettext("personal access token")
    if label == "personal":
        owner = gettext("user %(username)s") % {"username": record.user.get_username()}
    elif source is None:
        owner = pgettext("a token's owner", "deleted")
    elif isinstance(source, Project):
        owner = gettext("project %(path)s") % {"path": source.full_path}
    else:
        owner = gettext("group %(path)s") % {"path": source.full_path}
    state = state_of(record)
    states = {
        "active": pgettext("a token's state", "active"),
        "rotating": pgettext("a token's state", "rotating"),
        "rotated": pgettext("a token's state", "rotated"),
        "revoked": pgettext("a token's state", "revoked"),
        "expired": pgettext("a token's state", "expired"),
    }
    return {"kind": kind, "owner": owner, "state": states.get(state, state)}


def record_find(record, *, actor, where: str, ip_address: str | None = None) -> None:
    audit_event_record(
        action=AuditAction.TOKEN_LEAK_FIND,
        actor=actor,
        target=record,
        ip_address=ip_address,
        details={"found_in": where, "state": state_of(record)},
    )


def revoke_found(record, *, actor, where: str, ip_address: str | None = None) -> bool:
    """Revoke a found token (audited, with where it was found) and tell its owner or managers;
    False when it was not active (nothing done)."""
    if not record.is_active:
        return False
    with transaction.atomic():
        if not record.revoke_once():
            return False
        audit_event_record(
            action=AuditAction.TOKEN_LEAK_REVOKE,
            actor=actor,
            target=record,
            ip_address=ip_address,
            details={"found_in": where},
        )
    _tell(record, actor=actor, where=where)
    return True


def _tell(record, *, actor, where: str) -> None:
    addressees = kind(kind_of(record)).addressees([record]).get(record.pk)
    if addressees is None:
        return
    details = describe(record)
    by = actor.get_username() if actor is not None and actor.is_authenticated else None
    prefetch_related_objects(addressees.people, "preferences")  # their languages (mail.py)
    for person in addressees.people:
        with translation.override(email_language(person)):
            words = in_words(record)
            email_user(
                person,
                subject=gettext("Your %(kind)s '%(name)s' was found and revoked")
                % {"kind": words["kind"], "name": record.name},
                template="tokens_site/email/token_leaked",
                context={
                    "details": details,
                    "words": words,
                    "where": gettext(where),  # the callers' places are in the catalogues
                    "by": by or gettext("an administrator"),
                    "url": addressees.url,
                },
            )
