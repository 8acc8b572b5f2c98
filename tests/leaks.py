"""Where a token's value could end up besides the one response that shows it: any column of any
table (with session data, signed cookies and database-cache values decoded, since those are
stored encoded), and the headers and cookies of a response. Used by both token kinds' tests."""

import base64
import binascii
import logging
import pickle
import zlib

from django.conf import settings
from django.core import signing
from django.db import connection

_DATABASE_CACHE = "django.core.cache.backends.db.DatabaseCache"


def _text(value) -> str:
    if isinstance(value, memoryview):
        value = value.tobytes()
    if isinstance(value, bytes):
        return value.decode(errors="ignore")
    return str(value)


def _signed_payload(text: str) -> str:
    """What django.core.signing wraps (sessions, the messages cookie): base64, maybe zlib'd."""
    payload = text.split(":", 1)[0]
    try:
        data = signing.b64_decode(payload.removeprefix(".").encode())
        if payload.startswith("."):
            data = zlib.decompress(data)
    except (ValueError, binascii.Error, zlib.error):
        return ""
    return data.decode(errors="ignore")


def _cached_value(text: str) -> str:
    """What the database cache stores: a base64'd pickle (of our own test database)."""
    try:
        return repr(pickle.loads(base64.b64decode(text, validate=True)))  # noqa: S301
    except (ValueError, binascii.Error, pickle.UnpicklingError, EOFError):
        return ""


def readable(text: str) -> str:
    """The text and what it carries encoded inside."""
    return "\n".join([text, _signed_payload(text)])


def database_cache_tables() -> set[str]:
    return {
        cache["LOCATION"]
        for cache in settings.CACHES.values()
        if cache["BACKEND"] == _DATABASE_CACHE
    }


def tables_holding(*secrets: str) -> list[str]:
    """The tables in which any of `secrets` appears, in any column of any row."""
    cache_tables = database_cache_tables()
    found = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            for row in cursor.fetchall():
                texts = [readable(_text(value)) for value in row]
                if table in cache_tables:
                    texts += [_cached_value(_text(value)) for value in row]
                if any(secret in text for secret in secrets for text in texts):
                    found.append(table)
                    break
    return found


def sent_besides_the_body(response) -> str:
    """A response's headers and cookies, decoded, as one text."""
    parts = [f"{name}: {value}" for name, value in response.items()]
    for name, morsel in response.cookies.items():
        parts += [name, readable(morsel.value), morsel.OutputString()]
    return "\n".join(parts)


def log_everything(caplog, settings) -> None:
    """Capture every log line, the SQL of every query included (DEBUG on)."""
    settings.DEBUG = True
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="django")


def assert_shown_by_the_creating_page_only(
    plaintext: str, *, client, created, reloaded, caplog, logged: str
) -> None:
    """After a create (`created`, whose body shows `plaintext`) and its reload (`reloaded`,
    the same form posted again), the value is in no later page, header, cookie, table
    (sessions and cache included) or log line. `logged` is text the log must hold: proof
    that it captured the requests (see log_everything)."""
    later = client.get(reloaded["Location"])
    assert "already submitted" in later.content.decode()
    for response in (created, reloaded, later):
        assert plaintext not in sent_besides_the_body(response)
    assert plaintext not in reloaded.content.decode() + later.content.decode()
    assert all(plaintext not in readable(morsel.value) for morsel in client.cookies.values())
    assert tables_holding(plaintext) == []
    assert logged in caplog.text
    assert plaintext not in caplog.text
