"""`python manage.py ci_variables <project full_path>`: the CI/CD variables of a project's
`gitlab-deploy-token`, in dotenv form, for a CI job to load. Prints nothing when the project has
no active such token (at project level or in one of its groups)."""

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.debug import sensitive_variables

from deploy_tokens.selectors import ci_deploy_token_for
from tokens_site.models import Project
from tokens_site.tokens import TokenDecryptionError, token_decrypt


class Command(BaseCommand):
    @property
    def help(self) -> str:  # argparse wants a str: translated when asked for
        return _(
            "Print CI_DEPLOY_USER and CI_DEPLOY_PASSWORD for the project's gitlab-deploy-token, "
            "or nothing when it has none."
        )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "project", help=gettext_lazy("the project's full path, e.g. tanuki/awesome_project")
        )

    @sensitive_variables()
    def handle(self, *args, project: str, **options) -> None:
        found = Project.objects.select_related("group").by_full_path(project.strip("/")).first()
        if found is None:
            raise CommandError(
                _("There is no project at '%(path)s'. Give its full path, e.g. group/project.")
                % {"path": project}
            )
        token = ci_deploy_token_for(found)
        if token is None:
            return
        try:
            password = token_decrypt(token.token_encrypted)
        except TokenDecryptionError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"CI_DEPLOY_USER={token.username}\nCI_DEPLOY_PASSWORD={password}")
