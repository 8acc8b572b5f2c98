"""Adding files to a project's package registry. A file is checked (name, version, file name,
size, sha256) while it streams to a temporary file, then kept through Django's storage API;
the database row and the stored file exist together or not at all."""

import hashlib
import re
import tempfile
from collections.abc import Iterable

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files import File
from django.db import IntegrityError, transaction
from django.utils.translation import gettext
from gunicorn.http.errors import ParseException
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from tokens_site.audit import audit_event_record
from tokens_site.models import AuditAction, InstanceSettings, Project
from tokens_site.packages.models import Package, PackageFile, PackageKind

CHUNK_SIZE = 64 * 1024
MIB = 1024 * 1024
PYPI_NAME = re.compile(r"[A-Z0-9]([A-Z0-9._-]*[A-Z0-9])?", re.IGNORECASE)
GENERIC_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,254}")
GENERIC_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,254}")
FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._~+-]{0,254}")
LONGEST_TEXT = 255  # the columns' length


class TooLarge(ValidationError):
    """The file is over the instance's limit (HTTP 413)."""


class IncompleteUpload(ValidationError):
    """The body ended before its Content-Length, or reading it failed (HTTP 400)."""


def max_file_size() -> int:
    return InstanceSettings.current().package_file_max_size_mb * MIB


def refuse_if_too_large(size: int) -> None:
    limit = max_file_size()
    if size > limit:
        raise TooLarge(
            gettext(
                "The file is too large: the limit is %(limit)s MiB "
                "(instance settings, largest package file)."
            )
            % {"limit": limit // MIB}
        )


class Spool:
    """A received file on local disk, with its size and sha256, taken in chunks (never whole in
    memory) and refused past the size limit."""

    def __init__(self, chunks: Iterable[bytes], refuse_size=None) -> None:
        """`refuse_size(size)` raises TooLarge past the limit (default: the package limit)."""
        refuse_size = refuse_size or refuse_if_too_large
        self.file = tempfile.TemporaryFile()  # noqa: SIM115 (closed by __exit__)
        digest, self.size = hashlib.sha256(), 0
        try:
            for chunk in chunks:
                self.size += len(chunk)
                refuse_size(self.size)
                digest.update(chunk)
                self.file.write(chunk)
        except BaseException:
            self.file.close()
            raise
        self.sha256 = digest.hexdigest()
        self.file.seek(0)

    def __enter__(self) -> "Spool":
        return self

    def __exit__(self, *exc_info) -> None:
        self.file.close()


def stream_chunks(stream, length: int | None) -> Iterable[bytes]:
    """A request body in chunks: `length` bytes, or to the end (a chunked body). A body that
    ends early (the client went away; the server then reads short or raises) is refused, so
    a partial file is never kept as if it were whole."""
    received = 0
    while length is None or received < length:
        size = CHUNK_SIZE if length is None else min(CHUNK_SIZE, length - received)
        try:
            chunk = stream.read(size)
        except OSError as error:  # gunicorn's NoMoreData, a reset connection
            raise IncompleteUpload(
                gettext(
                    "The upload was interrupted after %(received)s bytes: the connection was lost."
                )
                % {"received": received}
            ) from error
        except ParseException as error:  # a chunked body cut short or garbled
            raise IncompleteUpload(
                gettext("The upload's chunked encoding broke off after %(received)s bytes.")
                % {"received": received}
            ) from error
        if not chunk:
            break
        received += len(chunk)
        yield chunk
    if length is not None and received < length:
        raise IncompleteUpload(
            gettext("The upload was incomplete: received %(received)s of %(length)s bytes.")
            % {"received": received, "length": length}
        )


def _file_exists(file_name: str, display_name: str, version: str) -> str:
    return gettext("File already exists: %(file)s is in %(package)s %(version)s.") % {
        "file": file_name,
        "package": display_name,
        "version": version,
    }


def store_file(
    *,
    project: Project,
    kind: str,
    name: str,
    display_name: str,
    version: str,
    file_name: str,
    spool: Spool,
    requires_python: str = "",
    metadata: dict | None = None,
    replace: bool = False,
) -> PackageFile:
    """Keep `spool` as `file_name` of the package version (created if new, with `metadata`).
    With `replace`, an existing version of that name is deleted first (a duplicate allowed by
    the instance), else a file of the same name is refused (code "exists")."""
    stored = None
    try:
        with transaction.atomic():
            if replace:
                for old in Package.objects.filter(
                    project=project, kind=kind, name=name, version=version
                ):
                    package_delete(old)
            package, _ = Package.objects.get_or_create(
                project=project,
                kind=kind,
                name=name,
                version=version,
                defaults={"display_name": display_name, "metadata": metadata or {}},
            )
            if package.files.filter(file_name=file_name).exists():
                raise ValidationError(_file_exists(file_name, display_name, version), code="exists")
            record = PackageFile(
                package=package,
                file_name=file_name,
                size=spool.size,
                sha256=spool.sha256,
                requires_python=requires_python,
            )
            record.file.save(file_name, File(spool.file), save=False)
            stored = record.file
            record.save()
    except IntegrityError as error:
        if stored:
            stored.delete(save=False)
        raise ValidationError(
            _file_exists(file_name, display_name, version), code="exists"
        ) from error
    except BaseException:
        if stored:
            stored.delete(save=False)
        raise
    return record


def _check_requires_python(requires_python: str) -> None:
    try:
        SpecifierSet(requires_python)
    except InvalidSpecifier as error:
        raise ValidationError(
            gettext("requires_python '%(value)s' is not a version specifier such as '>=3.9'.")
            % {"value": requires_python[:100]}
        ) from error
    if len(requires_python) > LONGEST_TEXT:
        raise ValidationError(
            gettext("requires_python is too long: at most %(limit)s characters.")
            % {"limit": LONGEST_TEXT}
        )


def _check_python_file_name(name: str, version: Version, file_name: str) -> None:
    try:
        if file_name.endswith(".whl"):
            parsed_name, parsed_version, _, _ = parse_wheel_filename(file_name)
        else:
            parsed_name, parsed_version = parse_sdist_filename(file_name)
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion) as error:
        raise ValidationError(
            gettext(
                "'%(file)s' is not a wheel (.whl) or source distribution (.tar.gz, .zip) "
                "file name: %(error)s"
            )
            % {"file": file_name, "error": error}
        ) from error
    if canonicalize_name(parsed_name) != canonicalize_name(name) or parsed_version != version:
        raise ValidationError(
            gettext("The file %(file)s is not for %(name)s %(version)s: its name says %(says)s.")
            % {
                "file": file_name,
                "name": name,
                "version": version,
                "says": f"{parsed_name} {parsed_version}",
            }
        )


def pypi_file_add(
    *,
    project: Project,
    name: str,
    version: str,
    file_name: str,
    chunks: Iterable[bytes],
    sha256: str = "",
    requires_python: str = "",
) -> PackageFile:
    """A file uploaded by twine (the form's fields and its `content`)."""
    for field, value in [("name", name), ("version", version), ("filename", file_name)]:
        if len(value) > LONGEST_TEXT:
            raise ValidationError(
                gettext("The %(field)s is too long: at most %(limit)s characters.")
                % {"field": field, "limit": LONGEST_TEXT}
            )
    _check_requires_python(requires_python)
    if not PYPI_NAME.fullmatch(name or ""):
        raise ValidationError(
            gettext("'%(name)s' is not a valid package name (PEP 508).") % {"name": name}
        )
    try:
        parsed_version = Version(version)
    except InvalidVersion as error:
        raise ValidationError(
            gettext("'%(version)s' is not a valid version (PEP 440).") % {"version": version}
        ) from error
    _check_python_file_name(name, parsed_version, file_name)
    with Spool(chunks) as spool:
        if sha256 and sha256.lower() != spool.sha256:
            raise ValidationError(
                gettext(
                    "sha256_digest does not match the file: the upload was damaged "
                    "(expected %(expected)s, received %(received)s)."
                )
                % {"expected": sha256, "received": spool.sha256}
            )
        return store_file(
            project=project,
            kind=PackageKind.PYPI,
            name=canonicalize_name(name),
            display_name=name,
            version=str(parsed_version),
            file_name=file_name,
            spool=spool,
            requires_python=requires_python,
        )


def validate_generic(name: str, version: str, file_name: str) -> None:
    if not GENERIC_NAME.fullmatch(name):
        raise ValidationError(
            gettext(
                "'%(name)s' is not a valid package name: use letters, digits, '.', '_', '+' and "
                "'-', starting with a letter or digit."
            )
            % {"name": name}
        )
    if not GENERIC_VERSION.fullmatch(version):
        raise ValidationError(
            gettext("'%(version)s' is not a valid version.") % {"version": version}
        )
    if not FILE_NAME.fullmatch(file_name):
        raise ValidationError(
            gettext(
                "'%(file)s' is not a valid file name: use letters, digits, '.', '_', '~', '+' "
                "and '-', starting with a letter or digit (no directories)."
            )
            % {"file": file_name}
        )


def generic_file_add(
    *, project: Project, name: str, version: str, file_name: str, chunks: Iterable[bytes]
) -> PackageFile:
    validate_generic(name, version, file_name)
    with Spool(chunks) as spool:
        return store_file(
            project=project,
            kind=PackageKind.GENERIC,
            name=name,
            display_name=name,
            version=version,
            file_name=file_name,
            spool=spool,
        )


def package_delete(package: Package) -> None:
    """Delete a package version and its files (the stored files once the deletion commits:
    tokens_site.signals)."""
    package.delete()


def _described(package: Package) -> dict:
    """A package version in audit events."""
    return {"package_type": package.kind, "name": package.display_name, "version": package.version}


def audit_publish(item: PackageFile, *, principal, ip_address: str | None) -> None:
    """The publish audit event, on the project: who (a user, or a deploy token's username),
    what (format, name, version, file)."""
    package = item.package
    audit_event_record(
        action=AuditAction.PACKAGE_PUBLISH,
        actor=principal.user,
        target=package.project,
        ip_address=ip_address,
        details={"by": principal.username, **_described(package), "file": item.file_name},
    )


def package_destroy(*, actor, package: Package, ip_address: str | None = None) -> None:
    """Delete a package version (the project's Maintainers and Owners, as GitLab), audited."""
    from tokens_site.access.abilities import Ability
    from tokens_site.access.policy import access_on

    if not access_on(actor, package.project).can(Ability.MANAGE_SETTINGS):
        raise PermissionDenied(
            gettext("You need at least the Maintainer role in this project to delete packages.")
        )
    with transaction.atomic():
        audit_event_record(
            action=AuditAction.PACKAGE_DELETE,
            actor=actor,
            target=package.project,
            ip_address=ip_address,
            details={
                **_described(package),
                "files": [item.file_name for item in package.files.all()],
            },
        )
        package_delete(package)
