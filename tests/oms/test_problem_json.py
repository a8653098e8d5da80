"""Every API error is RFC 9457 problem JSON with a machine-readable code."""

import pytest

from tests.factories import SkuFactory

PROBLEM_KEYS = {"type", "title", "status", "detail", "code", "errors"}


def assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert set(body) >= PROBLEM_KEYS
    assert body["status"] == status
    assert body["code"] == code
    return body


@pytest.mark.django_db
def test_400_names_the_unknown_field(manager_api):
    response = manager_api.post(
        "/api/v1/skus/", {"code": "A-1", "name": "A", "colour": "red"}, format="json"
    )
    body = assert_problem(response, 400, "invalid")
    assert body["errors"] == {"colour": ["Unknown field."]}


@pytest.mark.django_db
def test_400_names_the_field_of_the_wrong_type(manager_api):
    response = manager_api.post(
        "/api/v1/skus/", {"code": "A-1", "name": "A", "weight_grams": "heavy"}, format="json"
    )
    body = assert_problem(response, 400, "invalid")
    assert list(body["errors"]) == ["weight_grams"]


@pytest.mark.django_db
def test_400_for_a_body_that_is_not_json(manager_api):
    response = manager_api.post("/api/v1/skus/", data="{not json", content_type="application/json")
    assert_problem(response, 400, "parse_error")


@pytest.mark.django_db
def test_401_without_credentials(anonymous_api):
    response = anonymous_api.get("/api/v1/skus/")
    assert_problem(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == "Token"


@pytest.mark.django_db
def test_401_with_a_bad_token(anonymous_api):
    anonymous_api.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert_problem(anonymous_api.get("/api/v1/skus/"), 401, "authentication_failed")


@pytest.mark.django_db
def test_403_without_the_model_permission(api_client_for):
    no_roles = api_client_for()
    assert_problem(no_roles.get("/api/v1/skus/"), 403, "permission_denied")


@pytest.mark.django_db
def test_404_for_an_unknown_object_and_an_unknown_endpoint(manager_api):
    assert_problem(manager_api.get("/api/v1/skus/999999/"), 404, "not_found")
    assert_problem(manager_api.get("/api/v1/no-such-thing/"), 404, "not_found")


@pytest.mark.django_db
def test_409_for_a_reused_idempotency_key(manager_api):
    first = manager_api.post(
        "/api/v1/skus/", {"code": "A-1", "name": "A"}, format="json", HTTP_IDEMPOTENCY_KEY="k1"
    )
    assert first.status_code == 201
    second = manager_api.post(
        "/api/v1/skus/", {"code": "A-2", "name": "B"}, format="json", HTTP_IDEMPOTENCY_KEY="k1"
    )
    assert_problem(second, 409, "idempotency_key_reused")


@pytest.mark.django_db
def test_duplicate_code_is_400_naming_the_field_and_writes_nothing(manager_api):
    SkuFactory(code="DUP-1")
    response = manager_api.post("/api/v1/skus/", {"code": "DUP-1", "name": "x"}, format="json")
    body = assert_problem(response, 400, "invalid")
    assert "code" in body["errors"]


@pytest.mark.django_db
def test_405_for_delete(manager_api):
    sku = SkuFactory()
    response = manager_api.delete(f"/api/v1/skus/{sku.id}/")
    assert_problem(response, 405, "method_not_allowed")


def test_nested_errors_flatten_to_dotted_paths():
    from oms.api.exceptions import flatten_errors

    detail = {
        "lines": [{}, {"sku": ["Unknown SKU."], "non_field_errors": ["Bad line."]}],
        "non_field_errors": ["Totals disagree."],
        "customer": {"email": ["Enter a valid email."]},
    }
    assert flatten_errors(detail) == {
        "lines.1.sku": ["Unknown SKU."],
        "lines.1": ["Bad line."],
        "non_field_errors": ["Totals disagree."],
        "customer.email": ["Enter a valid email."],
    }


def test_domain_errors_map_to_their_status_and_code(rf):
    from oms.api.exceptions import problem_exception_handler
    from oms.errors import Conflict, InsufficientStock, InvalidTransition, NotFound

    for exc, status, code in [
        (NotFound("No such order."), 404, "not_found"),
        (Conflict("Busy."), 409, "conflict"),
        (InvalidTransition("Shipped orders cannot be cancelled."), 409, "invalid_transition"),
        (
            InsufficientStock("Only 2 left.", errors={"quantity": ["Only 2."]}),
            409,
            "insufficient_stock",
        ),
    ]:
        response = problem_exception_handler(exc, {})
        assert response is not None
        assert response.status_code == status
        assert response.data["code"] == code
        assert response.data["detail"] == str(exc.detail)
