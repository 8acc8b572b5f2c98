"""Git LFS: a project's large objects (stored once per project by their sha256 oid, through the
`lfs` storage alias) and its file locks."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from tokens_site.storage import storage_for

LOCK_PATH_MAX_LENGTH = 1024


def lfs_storage():
    return storage_for("lfs")


def lfs_object_path(instance: "LfsObject", filename: str) -> str:
    oid = instance.oid
    return f"lfs-objects/{instance.project_id}/{oid[:2]}/{oid[2:4]}/{oid}"


class LfsObject(models.Model):
    project = models.ForeignKey(
        "tokens_site.Project", on_delete=models.CASCADE, related_name="lfs_objects"
    )
    oid = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField()
    file = models.FileField(upload_to=lfs_object_path, storage=lfs_storage, max_length=1024)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "oid"], name="lfs_object_unique_oid")
        ]

    def __str__(self) -> str:
        return f"LFS object {self.oid[:12]} ({self.size} bytes)"


class LfsLock(models.Model):
    project = models.ForeignKey(
        "tokens_site.Project", on_delete=models.CASCADE, related_name="lfs_locks"
    )
    path = models.CharField(max_length=LOCK_PATH_MAX_LENGTH)
    ref = models.CharField(max_length=1024, blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    locked_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "path"], name="lfs_lock_unique_path")
        ]

    def __str__(self) -> str:
        return f"lock on {self.path}"
