"""The site's URLs plus one page that fails with a bug, for the tests of what a server error
answers and logs (`@pytest.mark.urls("tests.broken_urls")`)."""

from django.urls import path

from tokens_site.urls import urlpatterns as site_urlpatterns

BROKEN = "/-/broken"


class Bug(Exception):
    pass


def broken(request):
    raise Bug("a bug in a page")


urlpatterns = [path(BROKEN.removeprefix("/"), broken), *site_urlpatterns]
