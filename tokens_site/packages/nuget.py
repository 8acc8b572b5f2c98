"""NuGet packages (issue 18): reading a pushed .nupkg (a zip whose root holds one .nuspec), the
package id and version it declares, and the documents of the NuGet v3 protocol a client walks:
the service index, registrations (package metadata), the flat container (versions, .nupkg and
.nuspec) and search.

Ids are kept as pushed for display and compared lowercased, as NuGet does; versions are
normalized as NuGet normalizes them (no leading zeros, a fourth part only when not 0, no build
metadata). Our own code: the NuGet server protocol has no maintained Python implementation.
"""

import base64
import hashlib
import re
import zipfile
import zlib
from xml.etree import ElementTree
from xml.parsers import expat

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext

from tokens_site.models import InstanceSettings, Project
from tokens_site.packages.models import Package, PackageFile, PackageKind
from tokens_site.packages.services import CHUNK_SIZE, Spool, package_delete, store_file

ID = re.compile(r"[A-Za-z0-9_]+(?:[.-][A-Za-z0-9_]+)*")
ID_MAX_LENGTH = 100
VERSION = re.compile(
    r"(?P<numbers>\d+(?:\.\d+){1,3})"
    r"(?:-(?P<pre>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
    r"(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?"
)
NUSPEC_MAX_BYTES = 1024 * 1024
# What a registration's catalog entry carries from the .nuspec.
TEXT_FIELDS = ("authors", "description", "summary", "title", "tags", "projectUrl", "iconUrl")


class Duplicate(ValidationError):
    """The version exists and the instance does not allow duplicates (409)."""


class MissingPackage(ValidationError):
    """A symbol package for a version that was not pushed (404)."""


def normalize_version(version: str) -> str:
    """NuGet's normalized form of `version`, or a ValidationError."""
    matched = VERSION.fullmatch(version.strip())
    if matched is None or len(version) > 255:
        raise ValidationError(
            gettext(
                "'%(version)s' is not a valid NuGet version: use SemVer 2 (1.2.3, 1.2.3-beta.1) "
                "or four numbers (1.2.3.4)."
            )
            % {"version": version[:100]}
        )
    numbers = [str(int(part)) for part in matched.group("numbers").split(".")]
    while len(numbers) < 3:
        numbers.append("0")
    if len(numbers) == 4 and numbers[3] == "0":
        numbers.pop()
    pre = matched.group("pre")
    return ".".join(numbers) + (f"-{pre}" if pre else "")


def check_id(package_id: str) -> None:
    if len(package_id) > ID_MAX_LENGTH or not ID.fullmatch(package_id):
        raise ValidationError(
            gettext(
                "'%(id)s' is not a valid NuGet package id: letters, digits and '_', "
                "parts joined by '.' or '-', at most %(limit)s characters."
            )
            % {"id": package_id[:100], "limit": ID_MAX_LENGTH}
        )


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def read_nuspec(archive_file) -> tuple[dict, bytes]:
    """The .nuspec of a .nupkg (an open file): its metadata and its bytes."""
    try:
        archive = zipfile.ZipFile(archive_file)
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise ValidationError(
            gettext("The package is not a .nupkg: it is not a zip file.")
        ) from error
    with archive:
        entries = [
            entry
            for entry in archive.infolist()
            if "/" not in entry.filename and entry.filename.lower().endswith(".nuspec")
        ]
        if len(entries) != 1:
            raise ValidationError(
                gettext("The package has no .nuspec at its root (a .nupkg holds exactly one).")
                if not entries
                else gettext("The package has more than one .nuspec at its root.")
            )
        if entries[0].file_size > NUSPEC_MAX_BYTES:
            raise ValidationError(gettext("The .nuspec is too large: at most 1 MiB."))
        try:
            raw = archive.read(entries[0])
        except (
            zipfile.BadZipFile,
            OSError,
            ValueError,
            EOFError,
            RuntimeError,  # an encrypted entry
            NotImplementedError,  # an unknown compression method
            zlib.error,
        ) as error:
            raise ValidationError(
                gettext("The package's .nuspec cannot be read: %(error)s") % {"error": error}
            ) from error
    root = _parse_xml(raw)
    metadata = next((child for child in root if _local(child.tag) == "metadata"), None)
    if _local(root.tag) != "package" or metadata is None:
        raise ValidationError(gettext("The .nuspec has no <package><metadata> element."))
    fields: dict = {"dependencyGroups": []}
    for child in metadata:
        name = _local(child.tag)
        if name in ("id", "version", *TEXT_FIELDS):
            fields[name] = (child.text or "").strip()[:4000]
        elif name == "dependencies":
            fields["dependencyGroups"] = _dependency_groups(child)
    return fields, raw


def _parse_xml(raw: bytes):
    """The .nuspec's XML, refused if it declares a DOCTYPE or entities (in any encoding: expat
    reports them, whatever the bytes look like), checked in a first pass."""

    def refuse(*_args) -> None:
        raise ValidationError(gettext("The .nuspec may not declare a DOCTYPE or entities."))

    checker = expat.ParserCreate()
    checker.StartDoctypeDeclHandler = refuse
    checker.EntityDeclHandler = refuse
    try:
        checker.Parse(raw, True)
        return ElementTree.fromstring(raw)  # noqa: S314 (checked: no DOCTYPE, no entities)
    except (expat.ExpatError, ElementTree.ParseError, LookupError, ValueError) as error:
        raise ValidationError(
            gettext("The .nuspec is not valid XML: %(error)s") % {"error": error}
        ) from error


def _dependency_groups(element) -> list[dict]:
    groups, loose = [], []
    for child in element:
        if _local(child.tag) == "group":
            groups.append(
                {
                    "targetFramework": child.get("targetFramework", ""),
                    "dependencies": [_dependency(item) for item in child],
                }
            )
        elif _local(child.tag) == "dependency":
            loose.append(_dependency(child))
    if loose:
        groups.insert(0, {"targetFramework": "", "dependencies": loose})
    return groups


def _dependency(element) -> dict:
    return {"id": element.get("id", ""), "range": element.get("version", "")}


def push(*, project: Project, chunks, symbols: bool = False) -> PackageFile:
    """Keep a pushed .nupkg (or, with `symbols`, the .snupkg of a pushed package) of
    `project`. Versions are compared ignoring case, as NuGet compares them."""
    with Spool(chunks) as spool:
        fields, nuspec = read_nuspec(spool.file)
        package_id = fields.get("id", "")
        check_id(package_id)
        version = normalize_version(fields.get("version", ""))
        existing = list(
            Package.objects.filter(
                project=project,
                kind=PackageKind.NUGET,
                name=package_id.lower(),
                version__iexact=version,
            )
        )
        if symbols:
            if not existing:
                raise MissingPackage(
                    gettext("Push %(id)s %(version)s (its .nupkg) before its symbol package.")
                    % {"id": package_id, "version": version}
                )
            version = existing[0].version  # the symbols go beside it
        elif existing and not InstanceSettings.current().package_duplicates_allowed:
            raise Duplicate(
                gettext(
                    "Package already exists: %(id)s %(version)s is published; push a new "
                    "version (the instance does not allow duplicates)."
                )
                % {"id": package_id, "version": version}
            )
        metadata = {
            **fields,
            "id": package_id,
            "version": version,
            "nuspec": _text(nuspec),
            "sha512": _sha512(spool.file),  # NuGet 2 checks a download against it
        }
        lower = f"{package_id.lower()}.{version.lower()}"
        with transaction.atomic():
            if existing and not symbols:  # a duplicate the instance allows: replaced
                for old in existing:
                    package_delete(old)
            return store_file(
                project=project,
                kind=PackageKind.NUGET,
                name=package_id.lower(),
                display_name=package_id,
                version=version,
                file_name=f"{lower}.{'snupkg' if symbols else 'nupkg'}",
                spool=spool,
                metadata=metadata,
            )


def _text(raw: bytes) -> str:
    """The .nuspec as text, in the encoding its bytes are in (UTF-16 has a byte order mark)."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = raw.decode("utf-16", "replace")
    else:
        text = raw.decode("utf-8", "replace")
    return text.replace("\x00", "")


def _sha512(file) -> str:
    digest = hashlib.sha512()
    file.seek(0)
    while chunk := file.read(CHUNK_SIZE):
        digest.update(chunk)
    file.seek(0)
    return base64.b64encode(digest.digest()).decode()


# --- The v3 documents -------------------------------------------------------------------------


def service_index(base: str, *, publish: bool) -> dict:
    """The service index of a feed at `base` (…/packages/nuget); a group's has no publishing."""
    resources = [
        (f"{base}/query", "SearchQueryService", "Filter and search for packages by keyword."),
        (f"{base}/query", "SearchQueryService/3.0.0-beta", "Filter and search for packages."),
        (f"{base}/query", "SearchQueryService/3.0.0-rc", "Filter and search for packages."),
        (f"{base}/metadata", "RegistrationsBaseUrl", "Get package metadata."),
        (f"{base}/metadata", "RegistrationsBaseUrl/3.0.0-beta", "Get package metadata."),
        (f"{base}/metadata", "RegistrationsBaseUrl/3.0.0-rc", "Get package metadata."),
        (f"{base}/metadata", "RegistrationsBaseUrl/3.6.0", "Get package metadata (SemVer 2)."),
        (f"{base}/download", "PackageBaseAddress/3.0.0", "Get package content (.nupkg)."),
    ]
    if publish:
        resources += [
            (base, "PackagePublish/2.0.0", "Push and delete (or unlist) packages."),
            (f"{base}/symbolpackage", "SymbolPackagePublish/4.9.0", "Push symbol packages."),
        ]
    return {
        "version": "3.0.0",
        "resources": [
            {"@id": url, "@type": kind, "comment": comment} for url, kind, comment in resources
        ],
    }


def version_key(version: str) -> tuple:
    """NuGet's order of versions: by the numbers, a prerelease before its release, prerelease
    labels part by part (numbers as numbers, before words; words ignoring case)."""
    numbers, _, pre = version.partition("-")
    parts = [int(part) for part in numbers.split(".") if part.isascii() and part.isdigit()]
    parts += [0] * (4 - len(parts))
    labels = tuple(
        (0, int(label), "") if label.isascii() and label.isdigit() else (1, 0, label.lower())
        for label in pre.split(".")
    )
    return (tuple(parts), (1,) if not pre else (0, labels))


def packages_named(projects, package_id: str) -> list[Package]:
    """The versions of `package_id` (any case) in these projects, with their files, in
    version order."""
    found = (
        Package.objects.filter(
            project__in=projects, kind=PackageKind.NUGET, name=package_id.lower()
        )
        .prefetch_related("files")
        .select_related("project")
        .order_by("created_at")
    )
    return sorted(found, key=lambda package: version_key(package.version))


def _content_url(base: str, package: Package) -> str:
    lower_id, lower_version = package.name, package.version.lower()
    return f"{base}/download/{lower_id}/{lower_version}/{lower_id}.{lower_version}.nupkg"


def _catalog_entry(base: str, package: Package) -> dict:
    metadata = package.metadata
    return {
        "@id": f"{base}/metadata/{package.name}/{package.version.lower()}.json",
        "id": package.display_name,
        "version": package.version,
        "packageContent": _content_url(base, package),
        "dependencyGroups": metadata.get("dependencyGroups", []),
        "listed": True,
        "published": package.created_at.isoformat(),
        **{field: metadata.get(field, "") for field in TEXT_FIELDS},
    }


def registration_leaf(base: str, package: Package) -> dict:
    return {
        "@id": f"{base}/metadata/{package.name}/{package.version.lower()}.json",
        "packageContent": _content_url(base, package),
        "catalogEntry": _catalog_entry(base, package),
    }


def registration_index(base: str, packages: list[Package]) -> dict:
    """One page holding every version (GitLab's shape)."""
    versions = [package.version for package in packages]
    name = packages[0].name
    return {
        "count": 1,
        "items": [
            {
                "@id": f"{base}/metadata/{name}/index.json",
                "lower": versions[0],
                "upper": versions[-1],
                "count": len(packages),
                "items": [registration_leaf(base, package) for package in packages],
            }
        ],
    }


def search(base: str, projects, query: str, skip: int, take: int, prerelease: bool) -> dict:
    packages = Package.objects.filter(project__in=projects, kind=PackageKind.NUGET)
    if query:
        packages = packages.filter(name__icontains=query.lower())
    if not prerelease:
        packages = packages.exclude(version__contains="-")
    by_name: dict[str, list[Package]] = {}
    for package in packages.order_by("name", "created_at"):
        by_name.setdefault(package.name, []).append(package)
    for versions in by_name.values():
        versions.sort(key=lambda package: version_key(package.version))
    names = sorted(by_name)
    data = []
    for name in names[skip : skip + take]:
        versions = by_name[name]
        latest = versions[-1]
        data.append(
            {
                "@type": "Package",
                "id": latest.display_name,
                "version": latest.version,
                "versions": [
                    {
                        "@id": f"{base}/metadata/{name}/{item.version.lower()}.json",
                        "version": item.version,
                        "downloads": 0,
                    }
                    for item in versions
                ],
                "registration": f"{base}/metadata/{name}/index.json",
                "totalDownloads": 0,
                "verified": False,
                **{field: latest.metadata.get(field, "") for field in TEXT_FIELDS},
            }
        )
    return {"totalHits": len(names), "data": data}
