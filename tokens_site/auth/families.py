"""The endpoint families and what each accepts, in order: where credentials are read, which
authenticators try them (the first that recognises the secret wins), and how refusals are
shaped. Adding a credential kind to a family is adding its authenticator here."""

from dataclasses import dataclass

from django.utils.translation import gettext_lazy

from deploy_tokens.authentication import DeployTokenAuthenticator
from personal_tokens.authentication import PersonalTokenAuthenticator
from tokens_site.auth.authenticators import Authenticator, PasswordAuthenticator
from tokens_site.auth.credentials import Source
from tokens_site.auth.refusals import BASIC_CHALLENGE, BEARER_CHALLENGE, Style

# The 401 reasons are read by people through their tools: translated (lazy, made when the
# answer is written). The REST API's stay English.
UNAUTHORIZED_MESSAGE = gettext_lazy(
    "HTTP Basic: Access denied. Use a personal access token or a deploy token (with its "
    "username) as the password."
)

# Git's: one line (git prints it as `remote: ...`) that also says what to do when the account
# has two-factor authentication, whose password Git never takes. The same for every refused
# credential, so it never tells a right password from a wrong one.
GIT_UNAUTHORIZED_MESSAGE = gettext_lazy(
    "HTTP Basic: Access denied. With two-factor authentication enabled, use a personal access "
    "token with the read_repository scope (write_repository to push) as the password; "
    "otherwise check the password, or use a personal access token or a deploy token."
)


@dataclass(frozen=True)
class Family:
    name: str
    sources: tuple[Source, ...]
    authenticators: tuple[Authenticator, ...]
    style: Style
    challenge: str = BASIC_CHALLENGE
    unauthorized_message: str = UNAUTHORIZED_MESSAGE  # lazy: made when the answer is written
    # Headers of credential kinds the family never takes: a request with one is refused
    # (401), not served as anonymous.
    refused_headers: tuple[str, ...] = ()
    # For a family without Source.BASIC: the 401's reason when a request brings HTTP Basic
    # (a username and password), saying what to send instead. Empty: the usual 401.
    basic_refusal: str = ""


PERSONAL_TOKEN = PersonalTokenAuthenticator()
DEPLOY_TOKEN = DeployTokenAuthenticator()
PASSWORD = PasswordAuthenticator()

# Git over HTTP: a personal token (any username), a deploy token (its username), then — while
# the instance allows it — the user's password.
GIT = Family(
    "git",
    sources=(Source.BASIC,),
    authenticators=(PERSONAL_TOKEN, DEPLOY_TOKEN, PASSWORD),
    style=Style.TEXT,
    unauthorized_message=GIT_UNAUTHORIZED_MESSAGE,
)
# Git LFS: Git's credentials (the client sends what git uses), answered in JSON as the LFS API
# wants its errors.
LFS = Family(
    "lfs",
    sources=(Source.BASIC,),
    authenticators=(PERSONAL_TOKEN, DEPLOY_TOKEN, PASSWORD),
    style=Style.MESSAGE,
    unauthorized_message=GIT_UNAUTHORIZED_MESSAGE,
)
# The package registry: Basic, or `PRIVATE-TOKEN:` / `Deploy-Token:` headers.
PACKAGES = Family(
    "packages",
    sources=(Source.BASIC, Source.PRIVATE_TOKEN_HEADER, Source.DEPLOY_TOKEN_HEADER),
    authenticators=(PERSONAL_TOKEN, DEPLOY_TOKEN),
    style=Style.MESSAGE,
    unauthorized_message=gettext_lazy(
        "HTTP Basic: Access denied. Use a personal access token with the read_api scope (api "
        "to publish), or a deploy token with read_package_registry (write_package_registry to "
        "publish) and its username, as the password; account passwords are not accepted."
    ),
)
# npm: its `_authToken` is a Bearer token (a personal, access or deploy token alone); Basic
# (`_auth`) and the package headers too.
NPM = Family(
    "npm",
    sources=(Source.BEARER, Source.BASIC, Source.PRIVATE_TOKEN_HEADER, Source.DEPLOY_TOKEN_HEADER),
    authenticators=(PERSONAL_TOKEN, DEPLOY_TOKEN),
    style=Style.MESSAGE,
    challenge=BEARER_CHALLENGE,
    unauthorized_message=gettext_lazy(
        "Access denied. Set _authToken in .npmrc to a personal access token with the read_api "
        "scope (api to publish), or a deploy token with read_package_registry "
        "(write_package_registry to publish)."
    ),
)
# The container registry's token service (`docker login`, skopeo): Basic only.
REGISTRY = Family(
    "registry",
    sources=(Source.BASIC,),
    authenticators=(PERSONAL_TOKEN, DEPLOY_TOKEN),
    style=Style.REGISTRY,
    unauthorized_message=gettext_lazy(
        "HTTP Basic: Access denied. Use a personal access token with the read_registry scope "
        "(write_registry to push) or a deploy token as the password; account passwords are "
        "not accepted."
    ),
)
# The REST API: personal tokens in GitLab's three places. Deploy tokens and CI job tokens are
# refused, and so is Basic (there is no Source.BASIC: an Authorization header that is not a
# Bearer token is malformed). Its refusals are English (not marked for translation).
API = Family(
    "api",
    sources=(Source.PRIVATE_TOKEN_HEADER, Source.BEARER, Source.PRIVATE_TOKEN_PARAMETER),
    authenticators=(PERSONAL_TOKEN,),
    style=Style.API,
    challenge=BEARER_CHALLENGE,
    unauthorized_message="401 Unauthorized",
    refused_headers=("HTTP_DEPLOY_TOKEN", "HTTP_JOB_TOKEN"),
    basic_refusal=(
        "The API does not take HTTP Basic credentials (passwords, deploy tokens): send a "
        "personal access token with the api or read_api scope, in the PRIVATE-TOKEN header or "
        "as a Bearer token."
    ),
)
# `/-/whoami`: which token this is (tokens only, never a password).
WHOAMI = Family(
    "whoami",
    sources=(Source.BASIC,),
    authenticators=(PERSONAL_TOKEN, DEPLOY_TOKEN),
    style=Style.TEXT,
)
