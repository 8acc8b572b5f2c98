"""The site's URLs, plus `/-/bench/whoami-password`: `/-/whoami` that also takes a user's
password over Basic, as Git over HTTP does when the instance allows it. The site itself offers
passwords to Git only; the benchmark needs the same trivial endpoint behind each credential."""

import dataclasses
from inspect import unwrap

from django.urls import include, path

from tokens_site.access.abilities import Ability
from tokens_site.auth.decorators import credential_required
from tokens_site.auth.families import PASSWORD, WHOAMI
from tokens_site.views import whoami

WHOAMI_WITH_PASSWORDS = dataclasses.replace(
    WHOAMI, name="whoami-password", authenticators=(*WHOAMI.authenticators, PASSWORD)
)
whoami_with_passwords = credential_required(
    Ability.READ_API, family=WHOAMI_WITH_PASSWORDS, load_project=None
)(unwrap(whoami))

urlpatterns = [
    path("-/bench/whoami-password", whoami_with_passwords),
    path("", include("tokens_site.urls")),
]
