"""The package registry of a project: PyPI, generic, npm and NuGet packages. Files are kept
through Django's storage API (the `packages` alias of STORAGES: MEDIA_ROOT unless configured);
names, versions, digests and each format's metadata here."""

from django.db import models
from django.utils import timezone

from tokens_site.storage import storage_for


class PackageKind(models.TextChoices):
    PYPI = "pypi", "PyPI"
    GENERIC = "generic", "Generic"
    NPM = "npm", "npm"
    NUGET = "nuget", "NuGet"


def packages_storage():
    return storage_for("packages")


class Package(models.Model):
    project = models.ForeignKey(
        "tokens_site.Project", on_delete=models.CASCADE, related_name="packages"
    )
    kind = models.CharField(max_length=16, choices=PackageKind.choices)
    # For PyPI, the normalized name (PEP 503); `display_name` keeps the uploaded spelling.
    name = models.CharField(max_length=255)
    display_name = models.CharField(max_length=255)
    version = models.CharField(max_length=255)
    # What the format says of this version: npm's version manifest (package.json and `dist`),
    # NuGet's .nuspec fields. Empty for PyPI and generic packages.
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        # The tables keep the names they had when these models were part of tokens_site.
        db_table = "tokens_site_package"
        ordering = ["kind", "name", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "kind", "name", "version"], name="package_unique_version"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} package {self.display_name} {self.version}"

    @property
    def label(self) -> str:
        """Its name and version, as people read them: "@tanuki/hello 1.0.0"."""
        return f"{self.display_name} {self.version}"


def package_file_path(instance: "PackageFile", filename: str) -> str:
    package = instance.package
    return f"packages/{package.project_id}/{package.kind}/{package.pk}/{filename}"


class PackageFile(models.Model):
    package = models.ForeignKey(Package, on_delete=models.CASCADE, related_name="files")
    file_name = models.CharField(max_length=255)
    file = models.FileField(upload_to=package_file_path, storage=packages_storage, max_length=1024)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64, db_index=True)
    requires_python = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        db_table = "tokens_site_packagefile"
        ordering = ["file_name"]
        constraints = [
            models.UniqueConstraint(fields=["package", "file_name"], name="package_file_unique")
        ]

    def __str__(self) -> str:
        return self.file_name


class PackageTag(models.Model):
    """An npm dist-tag: a name (`latest`, `beta`) for one version of a package."""

    package = models.ForeignKey(Package, on_delete=models.CASCADE, related_name="tags")
    # The package's project, kind and name, repeated: a tag is unique per package name.
    project = models.ForeignKey("tokens_site.Project", on_delete=models.CASCADE)
    kind = models.CharField(max_length=16, choices=PackageKind.choices)
    name = models.CharField(max_length=255)
    tag = models.CharField(max_length=255)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["tag"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "kind", "name", "tag"], name="package_tag_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name}@{self.tag}"
