"""The package registry of a project: PyPI packages and generic packages. Files are kept
through Django's storage API (MEDIA_ROOT by default); names, versions and digests here."""

from django.db import models
from django.utils import timezone


class PackageKind(models.TextChoices):
    PYPI = "pypi", "PyPI"
    GENERIC = "generic", "Generic"


class Package(models.Model):
    project = models.ForeignKey(
        "tokens_site.Project", on_delete=models.CASCADE, related_name="packages"
    )
    kind = models.CharField(max_length=16, choices=PackageKind.choices)
    # For PyPI, the normalized name (PEP 503); `display_name` keeps the uploaded spelling.
    name = models.CharField(max_length=255)
    display_name = models.CharField(max_length=255)
    version = models.CharField(max_length=255)
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


def package_file_path(instance: "PackageFile", filename: str) -> str:
    package = instance.package
    return f"packages/{package.project_id}/{package.kind}/{package.pk}/{filename}"


class PackageFile(models.Model):
    package = models.ForeignKey(Package, on_delete=models.CASCADE, related_name="files")
    file_name = models.CharField(max_length=255)
    file = models.FileField(upload_to=package_file_path, max_length=1024)
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
