"""A project's repository, and a package's files, LFS objects and the dependency proxy's blobs,
leave the disk (or their storage) with their rows, however the
rows go (a service, the admin, a cascade from a group), and only once the deletion is committed.
(An access token's bot whose project or group goes: access_tokens.signals.)"""

from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from tokens_site.models import DependencyProxyBlob, LfsObject, Project
from tokens_site.packages.models import PackageFile
from tokens_site.repositories import repository_remove


@receiver(post_delete, sender=Project)
def remove_repository(sender, instance: Project, **kwargs) -> None:
    path = instance.repository_path
    transaction.on_commit(lambda: repository_remove(path))


@receiver(post_delete, sender=PackageFile)
@receiver(post_delete, sender=LfsObject)
@receiver(post_delete, sender=DependencyProxyBlob)
def remove_stored_file(sender, instance, **kwargs) -> None:
    stored, storage = instance.file.name, instance.file.storage
    if stored:
        transaction.on_commit(lambda: storage.delete(stored))
