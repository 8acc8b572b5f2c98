"""A project's repository, and a package's files, leave the disk with their rows, however the
rows go (a service, the admin, a cascade from a group), and only once the deletion is committed.
An access token's bot whose project or group goes is blocked with it: its tokens stop, and it
never becomes an ordinary account."""

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from tokens_site.models import Bot, Group, Project
from tokens_site.packages.models import PackageFile
from tokens_site.repositories import repository_remove


@receiver(post_delete, sender=Project)
def remove_repository(sender, instance: Project, **kwargs) -> None:
    path = instance.repository_path
    transaction.on_commit(lambda: repository_remove(path))


@receiver(post_delete, sender=PackageFile)
def remove_package_file(sender, instance: PackageFile, **kwargs) -> None:
    stored, storage = instance.file.name, instance.file.storage
    transaction.on_commit(lambda: storage.delete(stored))


@receiver(post_delete, sender=Project)
@receiver(post_delete, sender=Group)
def block_orphaned_bots(sender, instance, **kwargs) -> None:
    """Bots whose project or group was just deleted (their Bot rows now name neither)."""
    orphans = Bot.objects.filter(project__isnull=True, group__isnull=True)
    get_user_model().objects.filter(pk__in=orphans.values("user_id"), is_active=True).update(
        is_active=False
    )
