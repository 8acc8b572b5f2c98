"""The API's OpenAPI 3 document: served without a token, valid, and naming every endpoint of
tokens_site/api/urls.py with each method it answers and the scopes it needs."""

import pytest
from openapi_spec_validator import validate

from tokens_site.api import urls
from tokens_site.api.base import ApiView

pytestmark = pytest.mark.django_db

METHODS = ("get", "post", "put", "delete")


def endpoints() -> list[tuple[type, str]]:
    """(view class, method) of every API endpoint the URLconf routes to."""
    found = []
    for pattern in urls.urlpatterns:
        view = getattr(pattern.callback, "cls", None)
        if view is None or not issubclass(view, ApiView) or view.schema is None:
            continue
        found += [(view, method) for method in METHODS if hasattr(view, method)]
    return found


@pytest.fixture
def document(client):
    response = client.get("/api/v4/openapi.json")
    assert response.status_code == 200
    return response.json()


def test_the_document_is_served_without_a_token_and_is_valid_openapi_3(document):
    assert document["openapi"].startswith("3.")
    validate(document)


def test_it_names_every_endpoint_with_its_methods_and_scopes(document):
    operations = {
        operation["operationId"]: operation
        for item in document["paths"].values()
        for method, operation in item.items()
        if method in METHODS
    }
    expected = endpoints()
    assert len(expected) > 25
    for view, method in expected:
        operation = operations.pop(f"{view.__name__}_{method}")
        ability = view.read_ability if method == "get" else view.write_ability
        if ability is None:  # any token
            assert operation["x-token-scopes"] == [], (view, method)
        else:
            assert "api" in operation["x-token-scopes"], (view, method)
    assert not operations, "operations of no endpoint"


def test_scopes_and_security_say_how_to_send_a_token(document):
    schemes = document["components"]["securitySchemes"]
    assert schemes["PrivateToken"] == {"type": "apiKey", "in": "header", "name": "PRIVATE-TOKEN"}
    assert schemes["PrivateTokenParameter"] == {
        "type": "apiKey",
        "in": "query",
        "name": "private_token",
    }
    user = document["paths"]["/api/v4/user"]["get"]
    assert user["x-token-scopes"] == ["api", "read_api", "read_user"]
    # Any one of the three places; what is public needs none.
    alternatives = [{"PrivateToken": []}, {"Bearer": []}, {"PrivateTokenParameter": []}]
    assert user["security"] == alternatives
    assert document["paths"]["/api/v4/projects"]["get"]["security"] == [*alternatives, {}]
    assert document["paths"]["/api/v4/projects"]["post"]["security"] == alternatives


def test_the_doc_page_and_its_script_are_served_by_the_site(client):
    page = client.get("/api/v4/docs")
    assert page.status_code == 200 and b"swagger-ui" in page.content
    script = client.get("/api/v4/docs?script=")
    assert script.status_code == 200 and b"SwaggerUIBundle" in script.content


def test_the_document_is_built_once_per_process(client, monkeypatch):
    from drf_spectacular.generators import SchemaGenerator

    first = client.get("/api/v4/openapi.json").json()
    built = []
    real = SchemaGenerator.get_schema
    monkeypatch.setattr(
        SchemaGenerator, "get_schema", lambda self, *a, **k: built.append(1) or real(self, *a, **k)
    )
    assert client.get("/api/v4/openapi.json").json() == first
    assert built == []
