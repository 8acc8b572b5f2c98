"""The one way to find a group or project: by its full path, ignoring case (served by the
unique index on LOWER(full_path), see `PathQuerySet.by_full_path`), or by its id."""

from tokens_site.paths import record_id


def find(queryset, ref: str):
    """The record `ref` names in `queryset` (a group or project queryset, already limited to
    what the caller may see): its id, else its full path; None when there is none."""
    number = record_id(ref)
    if number is not None:
        found = queryset.filter(pk=number).first()
        if found is not None:
            return found
    return queryset.by_full_path(ref).first()


def first_by_id(queryset, value: str, field: str = "pk"):
    """The record whose `field` is the id `value` spells, or None (also when `value` is not
    an id at all: ids are ASCII digits)."""
    number = record_id(value)
    return queryset.filter(**{field: number}).first() if number is not None else None
