"""Git smart HTTP: `/<full_path>.git/info/refs`, `/git-upload-pack`, `/git-receive-pack`.

Clone and fetch need read access to the repository, push needs write access: the Git family of
the authentication pipeline (tokens_site.auth) and the access policy (tokens_site.access)
decide. A refusal is plain text, which git prints as `remote: <reason>`. What clones and
fetches ask is answered from the caches when it can be (tokens_site.git_http.caches): only
after access is granted, so a cached answer is never a way around it.
"""

import functools

from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from tokens_site.access.abilities import Ability
from tokens_site.access.policy import Denied
from tokens_site.audit import client_ip
from tokens_site.auth.decorators import credential_required
from tokens_site.auth.families import GIT
from tokens_site.git_http import caches
from tokens_site.git_http.backend import run_http_backend
from tokens_site.git_http.push_protection import PushProtection
from tokens_site.language import activate_for
from tokens_site.models import InstanceSettings

MIB = 1024 * 1024
# `git push -o ...` (secret_push_protection.skip_all) is refused by the client unless the
# server advertises push options (info/refs) and then accepts them (the push).
PUSH_OPTIONS = {"receive.advertisePushOptions": "true"}
# Partial clones (`git clone --filter=blob:none`), as GitLab allows them.
UPLOAD_PACK_CONFIG = {"uploadpack.allowFilter": "true"}

SERVICES = {
    "git-upload-pack": Ability.READ_REPOSITORY,
    "git-receive-pack": Ability.WRITE_REPOSITORY,
}


def ability_for_service(request) -> Ability:
    service = request.GET.get("service", "")
    if service not in SERVICES:
        raise Denied(
            403,
            gettext_lazy(
                "Only Git's smart HTTP protocol is served (git-upload-pack, git-receive-pack)."
            ),
        )
    return SERVICES[service]


def serve(request, project, principal, suffix: str, *, backend=run_http_backend, **options):
    """git http-backend for this request: run_http_backend(), or as `backend` says (the pack
    cache has git write into a file: write_http_backend())."""
    return backend(
        request,
        repository=project.repository_path,
        suffix=suffix,
        remote_user=principal.username or "anonymous",
        **options,
    )


@require_GET
@credential_required(ability_for_service, family=GIT)
def info_refs(request, project, principal):
    if request.GET.get("service") == "git-receive-pack":
        return serve(request, project, principal, "info/refs", config=PUSH_OPTIONS)
    return caches.advertisement(
        request,
        project.repository_path,
        functools.partial(serve, request, project, principal, "info/refs"),
        config=UPLOAD_PACK_CONFIG,
    )


@require_POST
@credential_required(Ability.READ_REPOSITORY, family=GIT)
def upload_pack(request, project, principal):
    return caches.upload_pack(
        request,
        project.repository_path,
        functools.partial(serve, request, project, principal, "git-upload-pack"),
        config=UPLOAD_PACK_CONFIG,
    )


@require_POST
@credential_required(Ability.WRITE_REPOSITORY, family=GIT)
def receive_pack(request, project, principal):
    instance = InstanceSettings.current()
    options = {
        "config": {
            # git refuses a larger pack (`remote: fatal: pack exceeds maximum allowed size`)
            # and keeps nothing of it. The client sends its whole pack anyway: reading it to its
            # end (and throwing it away) lets the client read that answer.
            "receive.maxInputSize": str(instance.git_push_max_size_mb * MIB),
            **PUSH_OPTIONS,
        },
        "leftover_max_bytes": None,
    }
    activate_for(principal.user)  # the hook's refusal in the pusher's language, if they chose
    protection = PushProtection.for_push(instance)
    if protection is not None:
        ip_address = client_ip(request)
        options["config"].update(protection.config)
        options["environment"] = protection.environment
        options["finished"] = lambda returncode: protection.record(
            project=project, principal=principal, ip_address=ip_address
        )
    return serve(request, project, principal, "git-receive-pack", **options)
