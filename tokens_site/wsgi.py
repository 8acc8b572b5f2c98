"""WSGI entry point: `gunicorn tokens_site.wsgi`."""

import os
import sys

from django.core.exceptions import ImproperlyConfigured
from django.core.wsgi import get_wsgi_application

from tokens_site.git_http.sendfile import START_RESPONSE

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tokens_site.settings")

try:
    django_application = get_wsgi_application()
except ImproperlyConfigured as error:
    sys.exit(f"Configuration error: {error}")


def application(environ, start_response):
    """Django's, with the server's start_response kept in the environ: under gunicorn, the Git
    cache sends a pack being written with sendfile (tokens_site.git_http.sendfile)."""
    environ[START_RESPONSE] = start_response
    return django_application(environ, start_response)
