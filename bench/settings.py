"""The site's settings, plus one URL that only the benchmark serves (bench/urls.py)."""

from tokens_site.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
