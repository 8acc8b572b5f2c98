"""Request checks that hold for every page, API call and client endpoint."""

from django.http import HttpResponseBadRequest
from django.utils.translation import gettext

NUL = "\x00"


class RejectNulMiddleware:
    """Refuse a URL or query string with a NUL character (`%00`) with 400. No database stores
    NUL in text (PostgreSQL refuses it), so no path, id or search term can contain one; refusing
    it here keeps it away from every lookup."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        if NUL in request.path_info or any(
            NUL in key or any(NUL in value for value in values)
            for key, values in request.GET.lists()
        ):
            return HttpResponseBadRequest(
                gettext(
                    "The URL contains a NUL character (%00), which no path or parameter may hold."
                )
                + "\n",
                content_type="text/plain; charset=utf-8",
            )
        return self.get_response(request)
