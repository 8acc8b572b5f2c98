"""A project's repository leaves the disk with its row, however the row goes (a service, the
admin, a cascade from its group), and only once the deletion is committed."""

from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from tokens_site.models import Project
from tokens_site.repositories import repository_remove


@receiver(post_delete, sender=Project)
def remove_repository(sender, instance: Project, **kwargs) -> None:
    path = instance.repository_path
    transaction.on_commit(lambda: repository_remove(path))
