from deploy_tokens.models import GITLAB_DEPLOY_TOKEN_NAME, DeployToken
from tokens_site.models import Project


def ci_deploy_token_for(project: Project) -> DeployToken | None:
    """The active `gitlab-deploy-token` that CI jobs of `project` get: the project's own first,
    else the one of the nearest group above it; the newest when there are several."""
    candidates = (
        DeployToken.objects.active()
        .reaching(project)
        .filter(name=GITLAB_DEPLOY_TOKEN_NAME)
        .exclude(token_encrypted="")
        .select_related("group")
    )
    return min(
        candidates,
        key=lambda token: (
            token.project_id is None,
            -len(token.group.traversal) if token.group_id else 0,
            -token.created_at.timestamp(),
        ),
        default=None,
    )
