"""Git smart HTTP: `/<full_path>.git/info/refs`, `/git-upload-pack`, `/git-receive-pack`.

Clone and fetch need read access to the repository, push needs write access; the rules are
those of the authentication layer (tokens_site.http_auth). A refusal is plain text, which git
prints as `remote: <reason>`.
"""

from django.views.decorators.http import require_GET, require_POST

from tokens_site.git_http.backend import run_http_backend
from tokens_site.http_auth import Ability, Denied, credential_required

SERVICES = {
    "git-upload-pack": Ability.READ_REPOSITORY,
    "git-receive-pack": Ability.WRITE_REPOSITORY,
}


def ability_for_service(request) -> Ability:
    service = request.GET.get("service", "")
    if service not in SERVICES:
        raise Denied(
            403,
            "Only Git's smart HTTP protocol is served (git-upload-pack, git-receive-pack).",
        )
    return SERVICES[service]


def serve(request, project, principal, suffix: str):
    return run_http_backend(
        request,
        repository=project.repository_path,
        suffix=suffix,
        remote_user=principal.username or "anonymous",
    )


@require_GET
@credential_required(ability_for_service, passwords=True)
def info_refs(request, project, principal):
    return serve(request, project, principal, "info/refs")


@require_POST
@credential_required(Ability.READ_REPOSITORY, passwords=True)
def upload_pack(request, project, principal):
    return serve(request, project, principal, "git-upload-pack")


@require_POST
@credential_required(Ability.WRITE_REPOSITORY, passwords=True)
def receive_pack(request, project, principal):
    return serve(request, project, principal, "git-receive-pack")
