from urllib.parse import urlsplit

API_PREFIX = "/api/"


class ApiRawPathMiddleware:
    """Route `/api/` URLs on the path exactly as the client sent it (gunicorn's RAW_URI, or
    REQUEST_URI), not the percent-decoded PATH_INFO: `groups/tanuki%2Fbackend/members` must
    name the group `tanuki/backend`, not `tanuki` and a sub-resource. Views decode the ids."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        raw = request.META.get("RAW_URI") or request.META.get("REQUEST_URI")
        if raw and request.path_info.startswith(API_PREFIX):
            path = urlsplit(raw).path if "://" in raw.split("?", 1)[0] else raw.split("?", 1)[0]
            if path.startswith(API_PREFIX):
                request.path_info = path
        return self.get_response(request)
