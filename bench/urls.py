"""The site's URLs, plus `/-/bench/whoami-password`: `/-/whoami` that also takes a user's
password over Basic, as Git over HTTP does when the instance allows it. The site itself offers
passwords to Git only; the benchmark needs the same trivial endpoint behind each credential."""

from inspect import unwrap

from django.urls import include, path

from tokens_site.http_auth import Ability, credential_required
from tokens_site.views import whoami

whoami_with_passwords = credential_required(Ability.READ_API, load_project=None, passwords=True)(
    unwrap(whoami)
)

urlpatterns = [
    path("-/bench/whoami-password", whoami_with_passwords),
    path("", include("tokens_site.urls")),
]
