"""The NuGet v2 feed (issue 18): the OData (Atom) protocol NuGet 2.x speaks, as GitLab 16.x
serves it under `…/packages/nuget/v2`. Debian's `nuget` (Mono) is NuGet 2.8.7: given the seeds'
source URL (`…/nuget/index.json`) it speaks v2 to that URL too (`index.json/$metadata`,
`index.json/FindPackagesById()`), so the same documents are served there.

What NuGet 2.x asks: `$metadata` (which functions the feed has), `FindPackagesById()?id='X'`,
`Packages(Id='X',Version='1.0.0')`, `Packages()?$filter=...` with an id, and `Search()`; each
answer is an Atom feed (or entry) whose entries carry the package's properties and the URL of
its .nupkg. Our own code: no maintained Python library serves this protocol.
"""

import re
from urllib.parse import unquote
from xml.sax.saxutils import escape, quoteattr

from tokens_site.packages.models import Package, PackageKind
from tokens_site.packages.nuget import version_key
from tokens_site.paths import record_id

ATOM = "http://www.w3.org/2005/Atom"
DATA = "http://schemas.microsoft.com/ado/2007/08/dataservices"
METADATA = "http://schemas.microsoft.com/ado/2007/08/dataservices/metadata"
# The entity's properties, as the gallery's V2FeedPackage declares them (the ones we fill).
PROPERTIES = (
    ("Id", "Edm.String"),
    ("Version", "Edm.String"),
    ("NormalizedVersion", "Edm.String"),
    ("Title", "Edm.String"),
    ("Authors", "Edm.String"),
    ("Description", "Edm.String"),
    ("Summary", "Edm.String"),
    ("Tags", "Edm.String"),
    ("ProjectUrl", "Edm.String"),
    ("IconUrl", "Edm.String"),
    ("Dependencies", "Edm.String"),
    ("PackageHash", "Edm.String"),
    ("PackageHashAlgorithm", "Edm.String"),
    ("PackageSize", "Edm.Int64"),
    ("Published", "Edm.DateTime"),
    ("LastUpdated", "Edm.DateTime"),
    ("IsLatestVersion", "Edm.Boolean"),
    ("IsAbsoluteLatestVersion", "Edm.Boolean"),
    ("IsPrerelease", "Edm.Boolean"),
    ("RequireLicenseAcceptance", "Edm.Boolean"),
    ("Listed", "Edm.Boolean"),
    ("DownloadCount", "Edm.Int32"),
    ("VersionDownloadCount", "Edm.Int32"),
)
FUNCTIONS = {
    "Search": ("searchTerm", "targetFramework", "includePrerelease"),
    "FindPackagesById": ("id",),
}
PAGE_MAX = 100
_QUOTED = re.compile(r"^'(.*)'$", re.DOTALL)
_KEY = re.compile(r"Id='(?P<id>[^']*)',Version='(?P<version>[^']*)'")
_FILTER_ID = re.compile(r"(?:tolower\()?Id\)?\s+eq\s+'(?P<id>[^']*)'", re.IGNORECASE)


def metadata_document() -> str:
    properties = "".join(
        f'<Property Name="{name}" Type="{kind}" '
        f'Nullable="{"false" if name in ("Id", "Version") else "true"}"/>'
        for name, kind in PROPERTIES
    )
    functions = "".join(
        f'<FunctionImport Name="{name}" EntitySet="Packages" '
        f'ReturnType="Collection(NuGetGallery.V2FeedPackage)" m:HttpMethod="GET">'
        + "".join(
            f'<Parameter Name="{parameter}" Type="'
            f'{"Edm.Boolean" if parameter == "includePrerelease" else "Edm.String"}"/>'
            for parameter in parameters
        )
        + "</FunctionImport>"
        for name, parameters in FUNCTIONS.items()
    )
    return (
        '<?xml version="1.0" encoding="utf-8" standalone="yes"?>'
        '<edmx:Edmx Version="1.0" xmlns:edmx="http://schemas.microsoft.com/ado/2007/06/edmx">'
        f'<edmx:DataServices xmlns:m="{METADATA}" m:DataServiceVersion="2.0">'
        f'<Schema Namespace="NuGetGallery" xmlns:d="{DATA}" xmlns:m="{METADATA}" '
        'xmlns="http://schemas.microsoft.com/ado/2006/04/edm">'
        '<EntityType Name="V2FeedPackage" m:HasStream="true">'
        '<Key><PropertyRef Name="Id"/><PropertyRef Name="Version"/></Key>'
        f"{properties}</EntityType>"
        '<EntityContainer Name="V2FeedContext" m:IsDefaultEntityContainer="true">'
        '<EntitySet Name="Packages" EntityType="NuGetGallery.V2FeedPackage"/>'
        f"{functions}</EntityContainer></Schema></edmx:DataServices></edmx:Edmx>"
    )


def service_document(root: str) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8" standalone="yes"?>'
        f'<service xml:base={quoteattr(root + "/")} xmlns="http://www.w3.org/2007/app" '
        f'xmlns:atom="{ATOM}"><workspace><atom:title>Default</atom:title>'
        '<collection href="Packages"><atom:title>Packages</atom:title></collection>'
        "</workspace></service>"
    )


def parameter(value: str | None) -> str:
    """An OData string parameter (`'X'`, URL-decoded) as its text."""
    value = unquote(value or "")
    matched = _QUOTED.match(value)
    return (matched.group(1) if matched else value).replace("''", "'")


def key(text: str) -> tuple[str, str] | None:
    """`Id='X',Version='Y'` → (X, Y)."""
    matched = _KEY.fullmatch(unquote(text))
    return (matched.group("id"), matched.group("version")) if matched else None


def filtered_id(expression: str) -> str | None:
    """The id a `$filter` asks for (`Id eq 'x'`, `tolower(Id) eq 'x'`), if any."""
    matched = _FILTER_ID.search(unquote(expression or ""))
    return matched.group("id") if matched else None


def page(query) -> tuple[int, int]:
    """OData's `$skip` and `$top` (NuGet 2 pages until an empty page comes back)."""

    def number(name: str, default: int) -> int:
        value = record_id(query.get(name, ""))
        return value if value is not None and value < 10**6 else default

    return number("$skip", 0), min(number("$top", PAGE_MAX), PAGE_MAX)


def packages(
    projects,
    *,
    package_id: str | None = None,
    term: str = "",
    prerelease=True,
    skip: int = 0,
    top: int = PAGE_MAX,
):
    found = Package.objects.filter(project__in=projects, kind=PackageKind.NUGET)
    if package_id is not None:
        found = found.filter(name=package_id.lower())
    if term:
        found = found.filter(name__icontains=term.lower())
    if not prerelease:
        found = found.exclude(version__contains="-")
    ordered = found.prefetch_related("files").order_by("name", "created_at")
    return list(ordered[skip : skip + top])


def _dependencies(metadata: dict) -> str:
    """NuGet 2's flattened form: `id:range:framework|...`."""
    parts = []
    for group in metadata.get("dependencyGroups", []):
        framework = group.get("targetFramework", "")
        dependencies = group.get("dependencies") or [{"id": "", "range": ""}]
        parts += [f"{item['id']}:{item['range']}:{framework}" for item in dependencies]
    return "|".join(parts)


def _entry(root: str, package: Package, latest: set[int]) -> str:
    metadata = package.metadata
    nupkg = next((item for item in package.files.all() if item.file_name.endswith(".nupkg")), None)
    when = package.created_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    values = {
        "Id": package.display_name,
        "Version": package.version,
        "NormalizedVersion": package.version,
        "Title": metadata.get("title") or package.display_name,
        "Authors": metadata.get("authors", ""),
        "Description": metadata.get("description", ""),
        "Summary": metadata.get("summary", ""),
        "Tags": metadata.get("tags", ""),
        "ProjectUrl": metadata.get("projectUrl", ""),
        "IconUrl": metadata.get("iconUrl", ""),
        "Dependencies": _dependencies(metadata),
        "PackageHash": metadata.get("sha512", ""),
        "PackageHashAlgorithm": "SHA512",
        "PackageSize": nupkg.size if nupkg else 0,
        "Published": when,
        "LastUpdated": when,
        "IsLatestVersion": package.pk in latest and "-" not in package.version,
        "IsAbsoluteLatestVersion": package.pk in latest,
        "IsPrerelease": "-" in package.version,
        "RequireLicenseAcceptance": False,
        "Listed": True,
        "DownloadCount": 0,
        "VersionDownloadCount": 0,
    }
    properties = "".join(_property(name, kind, values[name]) for name, kind in PROPERTIES)
    identity = f"Packages(Id='{package.display_name}',Version='{package.version}')"
    source = f"{root}/download/{package.name}/{package.version.lower()}"
    return (
        f"<entry><id>{escape(root)}/{escape(identity)}</id>"
        f'<title type="text">{escape(package.display_name)}</title>'
        f"<updated>{when}</updated><author><name>{escape(values['Authors'])}</name></author>"
        f'<content type="application/zip" src={quoteattr(source)}/>'
        f"<m:properties>{properties}</m:properties></entry>"
    )


def _property(name: str, kind: str, value) -> str:
    if isinstance(value, bool):
        value = "true" if value else "false"
    type_attribute = "" if kind == "Edm.String" else f' m:type="{kind}"'
    return f"<d:{name}{type_attribute}>{escape(str(value))}</d:{name}>"


def latest_of(projects, found: list[Package]) -> set[int]:
    """The ids of the latest version of each package in `found`, among all its versions (not
    only the ones on this page): one query."""
    newest: dict[str, Package] = {}
    for package in Package.objects.filter(
        project__in=projects, kind=PackageKind.NUGET, name__in={p.name for p in found}
    ).only("id", "name", "version"):
        current = newest.get(package.name)
        if current is None or version_key(package.version) > version_key(current.version):
            newest[package.name] = package
    return {package.pk for package in newest.values()}


def feed(root: str, title: str, found: list[Package], latest: set[int]) -> str:
    entries = "".join(_entry(root, package, latest) for package in found)
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<feed xml:base={quoteattr(root + "/")} xmlns="{ATOM}" xmlns:d="{DATA}" '
        f'xmlns:m="{METADATA}"><id>{escape(root)}/{escape(title)}</id>'
        f'<title type="text">{escape(title)}</title><updated>1970-01-01T00:00:00Z</updated>'
        f"{entries}</feed>"
    )


def entry_document(root: str, package: Package) -> str:
    return '<?xml version="1.0" encoding="utf-8"?>' + _entry(root, package, {package.pk}).replace(
        "<entry>",
        f'<entry xml:base={quoteattr(root + "/")} xmlns="{ATOM}" xmlns:d="{DATA}" '
        f'xmlns:m="{METADATA}">',
        1,
    )
