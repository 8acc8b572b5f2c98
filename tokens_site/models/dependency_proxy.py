"""The dependency proxy's cache, per top-level group: manifests (small: kept in the database)
by image and reference (a tag or a digest), and blobs by digest, their files through the
`dependency_proxy` storage alias."""

from django.db import models
from django.utils import timezone

from tokens_site.storage import storage_for


def dependency_proxy_storage():
    return storage_for("dependency_proxy")


def blob_path(instance: "DependencyProxyBlob", filename: str) -> str:
    digest = instance.digest.partition(":")[2]
    return f"dependency-proxy/{instance.group_id}/{digest[:2]}/{digest}"


class DependencyProxyManifest(models.Model):
    group = models.ForeignKey(
        "tokens_site.Group", on_delete=models.CASCADE, related_name="proxy_manifests"
    )
    image = models.CharField(max_length=255)
    reference = models.CharField(max_length=255)  # the tag or digest it was asked by
    digest = models.CharField(max_length=135)
    media_type = models.CharField(max_length=255)
    content = models.BinaryField()
    size = models.PositiveBigIntegerField()
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["group", "image", "reference"], name="proxy_manifest_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.image}:{self.reference}"


class DependencyProxyBlob(models.Model):
    group = models.ForeignKey(
        "tokens_site.Group", on_delete=models.CASCADE, related_name="proxy_blobs"
    )
    digest = models.CharField(max_length=135)
    size = models.PositiveBigIntegerField()
    file = models.FileField(upload_to=blob_path, storage=dependency_proxy_storage, max_length=1024)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["group", "digest"], name="proxy_blob_unique")
        ]

    def __str__(self) -> str:
        return self.digest
