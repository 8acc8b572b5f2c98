"""npm packages (issue 18): what `npm publish` sends (one JSON document: the version's
manifest, its dist-tags and the tarball in base64 under `_attachments`), the package document
`npm install` reads, and dist-tags.

Names are scoped, `@scope/name`, and the scope is the project's top-level group path, as
GitLab requires: the instance-level endpoint finds a package by its scope. Versions are SemVer 2.
Our own code: the registry protocol has no maintained server implementation in Python.
"""

import base64
import binascii
import hashlib
import json
import re

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from tokens_site.models import InstanceSettings, Project
from tokens_site.packages.models import Package, PackageFile, PackageKind, PackageTag
from tokens_site.packages.services import Spool, refuse_if_too_large, store_file

NAME_MAX_LENGTH = 214  # npm's
# npm's rules for a new package name: lowercase, URL-safe, not starting with "." or "_".
NAME = re.compile(r"@([a-z0-9-~][a-z0-9-._~]*)/([a-z0-9-~][a-z0-9-._~]*)")
# semver.org's regular expression for a SemVer 2 version, without build metadata (npm drops it:
# `1.0.0+a` and `1.0.0+b` are one version to npm).
SEMVER = re.compile(
    r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?",
    re.ASCII,
)
TAG = re.compile(r"[A-Za-z][A-Za-z0-9._-]{0,99}")
# Integrity (Subresource Integrity) algorithms npm writes, and what computes them.
INTEGRITY_ALGORITHMS = {
    "sha512": hashlib.sha512,
    "sha384": hashlib.sha384,
    "sha256": hashlib.sha256,
}


class Duplicate(ValidationError):
    """The version exists and the instance does not allow duplicates (npm: 403)."""


def check_name(name: str, project: Project) -> str:
    """`name` if it is a valid scoped name in the project's scope; its name without the scope."""
    if len(name) > NAME_MAX_LENGTH:
        raise ValidationError(
            gettext("The package name is too long: at most %(limit)s characters.")
            % {"limit": NAME_MAX_LENGTH}
        )
    matched = NAME.fullmatch(name)
    if matched is None:
        raise ValidationError(
            gettext(
                "'%(name)s' is not a valid package name: use a scoped name such as "
                "@%(scope)s/my-package (lowercase letters, digits, '-', '.', '_', '~')."
            )
            % {"name": name[:100], "scope": scope_of(project)}
        )
    if matched.group(1) != scope_of(project):
        raise ValidationError(
            gettext(
                "The package's scope must be @%(scope)s, the project's top-level group: "
                "%(name)s is in another scope."
            )
            % {"scope": scope_of(project), "name": name}
        )
    return matched.group(2)


def scope_of(project: Project) -> str:
    return project.full_path.split("/", 1)[0].lower()


def _integrity_matches(integrity: str, tarball: bytes) -> bool:
    """Whether an SRI string (`sha512-<base64>`, possibly several) names this tarball: every
    entry of an algorithm we know must match, and at least one must be known."""
    known = False
    for entry in integrity.split():
        algorithm, _, expected = entry.partition("-")
        digest = INTEGRITY_ALGORITHMS.get(algorithm)
        if digest is None:
            continue
        known = True
        if base64.b64encode(digest(tarball).digest()).decode() != expected.split("?")[0]:
            return False
    return known


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def parse_json(body: bytes):
    """A JSON document that the database can keep: no NaN or Infinity, no lone surrogates, not
    nested past Python's recursion limit. A ValidationError otherwise."""
    try:
        document = json.loads(body, parse_constant=_refuse_constant)
        json.dumps(document, ensure_ascii=False).encode("utf-8")
    except (ValueError, UnicodeError, RecursionError) as error:
        raise ValidationError(
            gettext("The body is not a JSON document: %(error)s") % {"error": str(error)[:200]}
        ) from error
    return document


def _parse(body: bytes) -> dict:
    document = parse_json(body)
    if not isinstance(document, dict):
        raise ValidationError(gettext("The body must be a JSON object, as npm publish sends."))
    return document


def _one_version(document: dict, name: str) -> tuple[str, dict]:
    versions = document.get("versions")
    if not isinstance(versions, dict) or len(versions) != 1:
        raise ValidationError(
            gettext("`versions` must hold exactly one version, as npm publish sends.")
        )
    [(version, manifest)] = versions.items()
    if not isinstance(manifest, dict):
        raise ValidationError(
            gettext("versions[%(version)s] must be a JSON object.")
            % {"version": repr(version[:50])}
        )
    if not SEMVER.fullmatch(version) or len(version) > 255:
        raise ValidationError(
            gettext("'%(version)s' is not a valid SemVer 2 version (e.g. 1.2.3).")
            % {"version": version[:100]}
        )
    if manifest.get("name", name) != name or manifest.get("version", version) != version:
        raise ValidationError(
            gettext("The manifest names %(named)s, not %(name)s %(version)s.")
            % {
                "named": f"{manifest.get('name')!s:.100} {manifest.get('version')!s:.50}",
                "name": name,
                "version": version,
            }
        )
    return version, manifest


def _tarball(document: dict, manifest: dict) -> bytes:
    attachments = document.get("_attachments")
    if not isinstance(attachments, dict) or len(attachments) != 1:
        raise ValidationError(
            gettext(
                "`_attachments` must hold the package's tarball (one file), as npm publish sends."
            )
        )
    [attachment] = attachments.values()
    data = attachment.get("data") if isinstance(attachment, dict) else None
    if not isinstance(data, str):
        raise ValidationError(gettext("The attachment has no `data` (the tarball in base64)."))
    try:
        tarball = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as error:
        raise ValidationError(gettext("The attachment's `data` is not valid base64.")) from error
    refuse_if_too_large(len(tarball))
    length = attachment.get("length")
    if length is not None and length != len(tarball):
        raise ValidationError(
            gettext("The attachment's length is %(length)s but its data holds %(size)s bytes.")
            % {"length": length, "size": len(tarball)}
        )
    dist = manifest.get("dist") if isinstance(manifest.get("dist"), dict) else {}
    integrity, shasum = dist.get("integrity"), dist.get("shasum")
    if isinstance(integrity, str) and integrity:
        if not _integrity_matches(integrity, tarball):
            raise ValidationError(
                gettext(
                    "The tarball does not match its integrity (dist.integrity): the upload was "
                    "damaged, or the manifest is not this tarball's."
                )
            )
    elif (
        isinstance(shasum, str) and shasum and hashlib.sha1(tarball).hexdigest() != shasum.lower()  # noqa: S324 (npm's shasum)
    ):
        raise ValidationError(gettext("The tarball does not match its shasum (dist.shasum)."))
    return tarball


def _tags_for(document: dict, version: str) -> list[str]:
    tags = document.get("dist-tags")
    if tags is None:
        return ["latest"]
    if not isinstance(tags, dict):
        raise ValidationError(
            gettext("`dist-tags` must be a JSON object of tag names and versions.")
        )
    named = [tag for tag, target in tags.items() if target == version]
    for tag in named:
        check_tag(tag)
    return named


def check_tag(tag: str) -> None:
    if not TAG.fullmatch(tag) or SEMVER.fullmatch(tag):
        raise ValidationError(
            gettext(
                "'%(tag)s' is not a valid dist-tag: a name such as latest or beta (letters, "
                "digits, '.', '_', '-'; not a version)."
            )
            % {"tag": tag[:100]}
        )


def publish(*, project: Project, name: str, body: bytes) -> PackageFile:
    """Publish the version in `body` (npm publish's document) as `name` of `project`."""
    bare = check_name(name, project)
    document = _parse(body)
    if document.get("name", name) != name:
        raise ValidationError(
            gettext("The body publishes %(published)s, not %(name)s.")
            % {"published": f"{document.get('name')!s:.100}", "name": name}
        )
    version, manifest = _one_version(document, name)
    tarball = _tarball(document, manifest)
    tags = _tags_for(document, version)
    _refuse_in_another_project(project, name)
    old = Package.objects.filter(
        project=project, kind=PackageKind.NPM, name=name, version=version
    ).first()
    if old is not None and not InstanceSettings.current().package_duplicates_allowed:
        raise Duplicate(
            gettext(
                "Package already exists: %(name)s %(version)s is published; publish a new version "
                "(the instance does not allow duplicates)."
            )
            % {"name": name, "version": version}
        )
    if old is not None:  # replaced: the tags that named it name the new one
        tags = sorted({*tags, *old.tags.values_list("tag", flat=True)})
    metadata = {
        **{key: value for key, value in manifest.items() if not key.startswith("_")},
        "name": name,
        "version": version,
        "dist": {
            "shasum": hashlib.sha1(tarball).hexdigest(),  # noqa: S324 (npm's shasum)
            "integrity": "sha512-" + base64.b64encode(hashlib.sha512(tarball).digest()).decode(),
        },
    }
    item = None
    try:
        with transaction.atomic():
            with Spool([tarball]) as spool:
                item = store_file(
                    project=project,
                    kind=PackageKind.NPM,
                    name=name,
                    display_name=name,
                    version=version,
                    file_name=f"{bare}-{version}.tgz",
                    spool=spool,
                    metadata=metadata,
                    replace=old is not None,
                )
            for tag in tags:
                tag_set(item.package, tag)
    except BaseException:
        if item is not None:  # the rows are gone with the transaction: the file goes too
            item.file.storage.delete(item.file.name)
        raise
    return item


def _refuse_in_another_project(project: Project, name: str) -> None:
    """A name belongs to one project of its top-level group (as GitLab): the instance-level
    endpoint finds a package by its scope, and another project must not shadow it."""
    elsewhere = (
        Package.objects.filter(
            kind=PackageKind.NPM,
            name=name,
            project__full_path__istartswith=f"{scope_of(project)}/",
        )
        .exclude(project=project)
        .select_related("project")
        .first()
    )
    if elsewhere is not None:
        raise Duplicate(
            gettext(
                "Package already exists: %(name)s is published by another project of "
                "@%(scope)s (%(project)s); a name belongs to one project."
            )
            % {"name": name, "scope": scope_of(project), "project": elsewhere.project.full_path}
        )


def tag_set(package: Package, tag: str) -> None:
    PackageTag.objects.update_or_create(
        project_id=package.project_id,
        kind=package.kind,
        name=package.name,
        tag=tag,
        defaults={"package": package, "updated_at": timezone.now()},
    )


def versions_of(project: Project, name: str) -> list[Package]:
    return list(
        Package.objects.filter(project=project, kind=PackageKind.NPM, name=name)
        .prefetch_related("files")
        .order_by("created_at")
    )


def tags_of(project: Project, name: str) -> dict[str, str]:
    return {
        tag.tag: tag.package.version
        for tag in PackageTag.objects.filter(
            project=project, kind=PackageKind.NPM, name=name
        ).select_related("package")
    }


def document_of(project: Project, name: str, tarball_base: str) -> dict | None:
    """The package document (`GET /<name>`): every version's manifest with its tarball's URL
    under `tarball_base`, and the dist-tags. None when there is no such package."""
    packages = versions_of(project, name)
    if not packages:
        return None
    versions = {}
    for package in packages:
        files = list(package.files.all())
        if not files:
            continue
        manifest = dict(package.metadata)
        manifest["dist"] = {
            **manifest.get("dist", {}),
            "tarball": f"{tarball_base}/{name}/-/{name}-{package.version}.tgz",
        }
        versions[package.version] = manifest
    return {"name": name, "versions": versions, "dist-tags": tags_of(project, name)}


def tarball_of(project: Project, name: str, file_name: str) -> PackageFile | None:
    """The tarball `<name>-<version>.tgz` (with or without the scope, as npm asks)."""
    bare = name.split("/", 1)[-1]
    file_name = file_name.split("/", 1)[-1] if file_name.startswith("@") else file_name
    if not file_name.startswith(f"{bare}-") or not file_name.endswith(".tgz"):
        return None
    return (
        PackageFile.objects.filter(
            package__project=project,
            package__kind=PackageKind.NPM,
            package__name=name,
            file_name=file_name,
        )
        .select_related("package")
        .first()
    )
