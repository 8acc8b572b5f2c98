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
