"""The OpenAPI 3 document of the API (drf-spectacular): how tokens are sent, and the token
scopes each operation needs (`x-token-scopes`, from the view's abilities: the same the
permission checks)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from rest_framework.permissions import SAFE_METHODS

from tokens_site.access.abilities import PERSONAL_SCOPES


class ApiSchema(AutoSchema):
    def get_operation_id(self) -> str:
        return f"{type(self.view).__name__}_{self.method.lower()}"

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        reading = self.method in SAFE_METHODS
        ability = self.view.read_ability if reading else self.view.write_ability
        operation["x-token-scopes"] = sorted(PERSONAL_SCOPES[ability]) if ability else []
        if reading and self.view.anonymous_reads:
            operation["x-anonymous"] = "what is public may be read without a token"
        return operation


class PipelineAuthenticationScheme(OpenApiAuthenticationExtension):
    """A personal access token in any of GitLab's three places: each one is enough."""

    target_class = "tokens_site.api.authentication.PipelineAuthentication"
    name = ["PrivateToken", "Bearer", "PrivateTokenParameter"]

    def get_security_requirement(self, auto_schema):
        # Alternatives, not all at once; what anonymous visitors may read needs none.
        alternatives = [{name: []} for name in self.name]
        view = auto_schema.view
        if view.anonymous_reads and auto_schema.method in SAFE_METHODS:
            alternatives.append({})
        return alternatives

    def get_security_definition(self, auto_schema):
        return [
            {"type": "apiKey", "in": "header", "name": "PRIVATE-TOKEN"},
            {"type": "http", "scheme": "bearer"},
            {"type": "apiKey", "in": "query", "name": "private_token"},
        ]
