"""Git LFS over HTTP (issue 19), on every project, as GitLab serves it:

- `POST <project>.git/info/lfs/objects/batch`: the batch API (basic transfer): for a download,
  where each object is; for an upload, where to send it and how to verify it;
- `PUT <project>.git/gitlab-lfs/objects/<oid>/<size>` and `GET .../gitlab-lfs/objects/<oid>`:
  the transfers; `POST <project>.git/info/lfs/objects/verify`;
- the locks API under `<project>.git/info/lfs/locks` (create, list, verify, unlock).

Credentials are Git's (the LFS client sends what git uses), through the one pipeline: deploy
tokens read, personal, project and group access tokens read and write by scope and role, exactly
as for Git (tokens_site.git_http.views). Objects are kept once per project by oid through the
`lfs` storage alias; a batch costs the same queries whatever the number of objects. Our own
code: no maintained Python server of the LFS API fits Django.
"""

import json
import re

from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import IntegrityError, transaction
from django.http import FileResponse, JsonResponse
from django.utils.translation import gettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tokens_site.access.abilities import Ability
from tokens_site.access.policy import project_access
from tokens_site.auth.decorators import credential_required
from tokens_site.auth.families import LFS
from tokens_site.models import InstanceSettings, LfsLock, LfsObject
from tokens_site.models.lfs import LOCK_PATH_MAX_LENGTH
from tokens_site.packages.services import Spool, TooLarge, stream_chunks
from tokens_site.paths import record_id

CONTENT_TYPE = "application/vnd.git-lfs+json"
OID = re.compile(r"[0-9a-f]{64}")
BATCH_MAX_OBJECTS = 1000
LOCKS_PAGE_MAX = 100
MIB = 1024 * 1024


def answer(data: dict, status: int = 200) -> JsonResponse:
    response = JsonResponse(data, status=status, content_type=CONTENT_TYPE)
    response["Cache-Control"] = "no-store"  # action headers carry the client's credentials
    return response


def refusal(status: int, message: str) -> JsonResponse:
    """An LFS error: git-lfs prints `message` (translated when it is made)."""
    return answer({"message": str(message)}, status=status)


def _json_body(request) -> dict | None:
    """The request's JSON object, or None (read once, kept on the request)."""
    if not hasattr(request, "_lfs_body"):
        try:
            body = json.loads(request.body or b"{}")
        except (ValueError, UnicodeDecodeError, RecursionError):
            body = None
        request._lfs_body = body if isinstance(body, dict) else None
    return request._lfs_body


def _batch_ability(request) -> Ability:
    body = _json_body(request) or {}
    return (
        Ability.WRITE_REPOSITORY if body.get("operation") == "upload" else Ability.READ_REPOSITORY
    )


def _max_size() -> int:
    return InstanceSettings.current().lfs_object_max_size_mb * MIB


def _base(request, project) -> str:
    return request.build_absolute_uri(f"/{project.full_path}.git")


def _requested(body: dict) -> list[tuple[str, int]]:
    objects = body.get("objects")
    if not isinstance(objects, list) or not objects:
        raise ValidationError(gettext("`objects` must be a list of {oid, size}."))
    if len(objects) > BATCH_MAX_OBJECTS:
        raise TooLarge(
            gettext("Too many objects in one batch: %(count)s; at most %(limit)s.")
            % {"count": len(objects), "limit": BATCH_MAX_OBJECTS}
        )
    requested = []
    for item in objects:
        oid = item.get("oid") if isinstance(item, dict) else None
        size = item.get("size") if isinstance(item, dict) else None
        if not isinstance(oid, str) or not OID.fullmatch(oid):
            raise ValidationError(
                gettext("%(oid)s is not an object id: 64 hex digits.")
                % {"oid": repr(str(oid)[:80])}
            )
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ValidationError(
                gettext("The size of %(oid)s must be a whole number of bytes.") % {"oid": oid}
            )
        requested.append((oid, size))
    return requested


@require_POST
@credential_required(_batch_ability, family=LFS)
def batch(request, project, principal):
    body = _json_body(request)
    if body is None:
        return refusal(422, gettext("The batch request must be a JSON object."))
    operation = body.get("operation")
    if operation not in ("download", "upload"):
        return refusal(422, gettext("`operation` must be download or upload."))
    transfers = body.get("transfers") or ["basic"]
    if not isinstance(transfers, list) or "basic" not in transfers:
        return refusal(
            422, gettext("Only the basic transfer is served: `transfers` must list basic.")
        )
    if body.get("hash_algo", "sha256") != "sha256":
        return refusal(409, gettext("Only sha256 object ids are served (hash_algo)."))
    try:
        requested = _requested(body)
    except TooLarge as error:
        return refusal(413, error.messages[0])
    except ValidationError as error:
        return refusal(422, error.messages[0])
    stored = {
        item.oid: item.size
        for item in LfsObject.objects.filter(
            project=project, oid__in={oid for oid, _ in requested}
        ).only("oid", "size")
    }
    base, limit = _base(request, project), _max_size()
    # No credentials in the answer: the client sends the ones it used here to the actions,
    # which are on this same host (git-lfs does; an anonymous client sends none).
    objects = []
    for oid, size in requested:
        item = {"oid": oid, "size": size}
        if operation == "download":
            if stored.get(oid) == size:
                item["actions"] = {"download": {"href": f"{base}/gitlab-lfs/objects/{oid}"}}
            else:
                item["error"] = {
                    "code": 404,
                    "message": gettext("Object does not exist on the server."),
                }
        elif oid in stored and stored[oid] != size:
            item["error"] = {
                "code": 422,
                "message": gettext("This object is stored with another size (%(size)s bytes).")
                % {"size": stored[oid]},
            }
        elif oid not in stored:
            if size > limit:
                item["error"] = {
                    "code": 422,
                    "message": gettext(
                        "The object is too large: the limit is %(limit)s MiB "
                        "(instance settings, largest Git LFS object)."
                    )
                    % {"limit": limit // MIB},
                }
            else:
                item["actions"] = {
                    "upload": {"href": f"{base}/gitlab-lfs/objects/{oid}/{size}"},
                    "verify": {"href": f"{base}/info/lfs/objects/verify"},
                }
        objects.append(item)
    return answer({"transfer": "basic", "objects": objects, "hash_algo": "sha256"})


@require_http_methods(["PUT"])
@credential_required(Ability.WRITE_REPOSITORY, family=LFS)
def upload(request, project, principal, oid, size):
    size = int(size)
    if not OID.fullmatch(oid):
        return refusal(422, gettext("The object id must be 64 hex digits."))
    limit = _max_size()
    if size > limit:
        return refusal(
            413,
            gettext("The object is too large: the limit is %(limit)s MiB.")
            % {"limit": limit // MIB},
        )

    def refuse_size(received: int) -> None:
        if received > size:
            raise ValidationError(
                gettext("The upload is larger than the object's size, %(size)s bytes.")
                % {"size": size}
            )

    length = record_id(request.META.get("CONTENT_LENGTH") or "")
    try:
        chunks = stream_chunks(request.META["wsgi.input"], length)
        with Spool(chunks, refuse_size=refuse_size) as spool:
            if spool.size != size:
                raise ValidationError(
                    gettext("The upload has %(received)s bytes, not the object's size, %(size)s.")
                    % {"received": spool.size, "size": size}
                )
            if spool.sha256 != oid:
                raise ValidationError(
                    gettext("The upload's sha256 is %(sha256)s, not its object id: it was damaged.")
                    % {"sha256": spool.sha256}
                )
            _store(project, oid, size, spool)
    except ValidationError as error:
        return refusal(400, error.messages[0])
    return answer({}, status=200)


def _store(project, oid: str, size: int, spool: Spool) -> None:
    """Keep the object once per project (a concurrent upload of the same object wins)."""
    if LfsObject.objects.filter(project=project, oid=oid).exists():
        return
    record, stored = LfsObject(project=project, oid=oid, size=size), None
    try:
        with transaction.atomic():
            record.file.save(oid, File(spool.file), save=False)
            stored = record.file
            record.save()
    except IntegrityError:
        if stored:
            stored.delete(save=False)


@require_GET
@credential_required(Ability.READ_REPOSITORY, family=LFS)
def download(request, project, principal, oid):
    item = LfsObject.objects.filter(project=project, oid=oid).first()
    if item is None:
        return refusal(404, gettext("Object does not exist on the server."))
    response = FileResponse(item.file.open("rb"), content_type="application/octet-stream")
    response["Content-Length"] = str(item.size)
    return response


@require_POST
@credential_required(Ability.WRITE_REPOSITORY, family=LFS)
def verify(request, project, principal):
    body = _json_body(request) or {}
    oid, size = body.get("oid"), body.get("size")
    valid = isinstance(oid, str) and isinstance(size, int) and not isinstance(size, bool)
    if (
        valid
        and 0 <= size < 2**63
        and LfsObject.objects.filter(project=project, oid=oid, size=size)
    ):
        return answer({})
    return refusal(404, gettext("Object does not exist on the server (or has another size)."))


# --- Locks ------------------------------------------------------------------------------------


def _storable(text: str) -> bool:
    """Text a database keeps: no NUL, no lone surrogate."""
    return (
        "\x00" not in text
        and text.encode("utf-8", "surrogatepass").decode("utf-8", "ignore") == text
    )


def _lock_json(lock: LfsLock) -> dict:
    return {
        "id": str(lock.pk),
        "path": lock.path,
        "locked_at": lock.locked_at.isoformat(),
        "owner": {"name": lock.owner.get_username()},
    }


def _person(principal):
    """Locks belong to people (and access tokens' bots); a deploy token has no one."""
    return principal.user


def _page(request, locks, body: dict | None = None):
    source = body if body is not None else request.GET
    start = record_id(str(source.get("cursor") or "")) or 0
    wanted = record_id(str(source.get("limit") or ""))
    size = min(wanted, LOCKS_PAGE_MAX) if wanted else LOCKS_PAGE_MAX
    page = list(locks.filter(pk__gt=start).select_related("owner")[: size + 1])
    following = str(page[size - 1].pk) if len(page) > size else ""
    return page[:size], following


@require_http_methods(["GET", "POST"])
@credential_required(Ability.WRITE_REPOSITORY, family=LFS)
def locks(request, project, principal):
    if request.method == "GET":
        found = project.lfs_locks.all()
        if path := request.GET.get("path"):
            found = found.filter(path=path)
        if (lock_id := record_id(request.GET.get("id", ""))) is not None:
            found = found.filter(pk=lock_id)
        page, following = _page(request, found)
        return answer({"locks": [_lock_json(lock) for lock in page], "next_cursor": following})
    person = _person(principal)
    if person is None:
        return refusal(
            403, gettext("Deploy tokens cannot lock files: use a personal access token.")
        )
    body = _json_body(request) or {}
    path = body.get("path")
    if not isinstance(path, str) or not path or not _storable(path):
        return refusal(422, gettext("`path` must name the file to lock."))
    if len(path) > LOCK_PATH_MAX_LENGTH:
        return refusal(
            422,
            gettext("The path is too long: at most %(limit)s characters.")
            % {"limit": LOCK_PATH_MAX_LENGTH},
        )
    ref = body.get("ref", {}).get("name", "") if isinstance(body.get("ref"), dict) else ""
    ref = ref if isinstance(ref, str) and _storable(ref) else ""
    existing = project.lfs_locks.filter(path=path).select_related("owner").first()
    if existing is None:
        try:
            with transaction.atomic():
                lock = LfsLock.objects.create(
                    project=project, path=path, owner=person, ref=str(ref)[:1024]
                )
            return answer({"lock": _lock_json(lock)}, status=201)
        except IntegrityError:
            existing = project.lfs_locks.filter(path=path).select_related("owner").first()
    return answer(
        {
            "lock": _lock_json(existing),
            "message": gettext("%(path)s is already locked.") % {"path": path},
        },
        status=409,
    )


@require_POST
@credential_required(Ability.WRITE_REPOSITORY, family=LFS)
def locks_verify(request, project, principal):
    person = _person(principal)
    if person is None:
        return refusal(403, gettext("Deploy tokens hold no locks: use a personal access token."))
    body = _json_body(request) or {}
    page, following = _page(request, project.lfs_locks.all(), body)
    return answer(
        {
            "ours": [_lock_json(lock) for lock in page if lock.owner_id == person.pk],
            "theirs": [_lock_json(lock) for lock in page if lock.owner_id != person.pk],
            "next_cursor": following,
        }
    )


@require_POST
@credential_required(Ability.WRITE_REPOSITORY, family=LFS)
def unlock(request, project, principal, lock_id):
    lock = project.lfs_locks.filter(pk=int(lock_id)).select_related("owner").first()
    if lock is None:
        return refusal(404, gettext("There is no such lock."))
    person = _person(principal)
    force = bool((_json_body(request) or {}).get("force"))
    if person is None or lock.owner_id != person.pk:
        if not force:
            return refusal(
                403,
                gettext("%(path)s is locked by %(owner)s: unlock with --force.")
                % {"path": lock.path, "owner": lock.owner.get_username()},
            )
        if person is None or not project_access(person, project).can(Ability.MANAGE_SETTINGS):
            return refusal(
                403, gettext("You need at least the Maintainer role to unlock another user's lock.")
            )
    data = _lock_json(lock)
    lock.delete()
    return answer({"lock": data})
