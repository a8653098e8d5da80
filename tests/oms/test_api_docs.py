import re

import pytest
from django.core.management import call_command


def test_schema_generates_without_warnings(tmp_path):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    text = out.read_text()
    for path in ("/api/v1/skus/", "/api/v1/locations/", "/api/v1/channels/"):
        assert path in text


@pytest.mark.django_db
def test_schema_endpoint_serves_openapi_3(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    assert response.json()["openapi"].startswith("3.")


@pytest.mark.django_db
def test_swagger_ui_loads_no_external_asset(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assets = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
    assert assets, "the page references its scripts and styles"
    external = [a for a in assets if re.match(r"^(https?:)?//", a)]
    assert external == []
    assert any("swagger-ui" in a and a.startswith("/static/") for a in assets)
    for asset in [a for a in assets if a.startswith("/static/")]:
        assert client.get(asset).status_code == 200, asset


@pytest.mark.django_db
def test_only_optional_query_parameters_may_be_sent_empty(client):
    """An empty filter means "not given"; a required parameter sent empty is missing (400),
    and the schema says so by not allowing it empty."""
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    flags = {}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "query":
                    key = (path, method, parameter["name"])
                    flags[key] = (bool(parameter.get("required")), parameter.get("allowEmptyValue"))
    required = [key for key, (needed, _) in flags.items() if needed]
    assert required, "some operation has a required query parameter"
    assert all(flags[key][1] is None for key in required)
    assert flags[("/api/v1/orders/", "get", "status")] == (False, True)
    assert flags[("/api/v1/orders/", "get", "cursor")][1] is None
