"""Filters for the LOGGING setting."""

import logging
from http import HTTPStatus


class ClientErrorsInOneLine(logging.Filter):
    """Leave the traceback out of the records of answers below 500.

    Django's `django.request` logger logs every 400, 403 and 404 it makes from an exception
    (PermissionDenied, Http404, ...) with that exception's traceback, and `django.security.*`
    its refusals of suspicious requests (DisallowedHost, TooManyFieldsSent, ...): a page of
    noise for an ordinary refusal. Such a record keeps its one line (status and path); the
    records of server errors keep their traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if status is not None and status < HTTPStatus.INTERNAL_SERVER_ERROR:
            record.exc_info = None
            record.exc_text = None
        return True
