"""Storages by alias (Django's STORAGES), resolved when first used and again after the setting
changes, not when models are imported: the package registry's and Git LFS's files go through
them, so any Django storage (S3 with django-storages) is configuration."""

from django.core.files.storage import storages
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.functional import LazyObject, empty


class AliasStorage(LazyObject):
    def __init__(self, alias: str):
        super().__init__()
        self.__dict__["_alias"] = alias

    def _setup(self):
        self._wrapped = storages[self.__dict__["_alias"]]


_by_alias: dict[str, AliasStorage] = {}


def storage_for(alias: str) -> AliasStorage:
    if alias not in _by_alias:
        _by_alias[alias] = AliasStorage(alias)
    return _by_alias[alias]


@receiver(setting_changed)
def _forget_storages(*, setting, **kwargs):
    if setting == "STORAGES":
        for storage in _by_alias.values():
            storage._wrapped = empty
