"""The OpenAPI document SDKs are generated from: named value sets, typed problems, shared parts."""

import enum
import json
from typing import Any

import httpx
from fastapi import FastAPI

from app.availability.bookings import ResourceTaken
from app.kit.errors import ProblemError
from app.models import states
from tests.fixtures.openapi import resolved

METHODS = {"get", "post", "patch", "put", "delete"}


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def _subclasses(error: type[ProblemError]) -> set[type[ProblemError]]:
    return {error}.union(*(_subclasses(sub) for sub in error.__subclasses__()))


def test_every_value_set_is_one_named_component_and_no_enum_is_inline(app: FastAPI) -> None:
    document = app.openapi()
    schemas = document["components"]["schemas"]
    value_sets = [
        member
        for member in vars(states).values()
        if isinstance(member, type)
        and issubclass(member, enum.StrEnum)
        and member.__module__ == states.__name__
    ]
    for value_set in value_sets:
        assert schemas[value_set.__name__]["enum"] == [m.value for m in value_set]
    text = json.dumps(document)
    named = {json.dumps(schemas[name]["enum"]) for name in schemas if "enum" in schemas[name]}
    assert text.count('"enum"') == len(named)


def test_problem_code_lists_every_code_of_the_problem_classes(app: FastAPI) -> None:
    schemas = app.openapi()["components"]["schemas"]
    codes = {error.code for error in _subclasses(ProblemError) if error.__name__ != "HTTPProblem"}

    assert set(schemas["ProblemCode"]["enum"]) == codes
    assert schemas["Problem"]["properties"]["code"] == {"$ref": "#/components/schemas/ProblemCode"}


def test_resource_taken_is_typed_with_its_conflicts_and_first_free_time(app: FastAPI) -> None:
    document = app.openapi()
    taken = document["components"]["schemas"]["ResourceTakenProblem"]
    assert {"conflicts", "first_free_at"} <= taken["properties"].keys()
    conflict = resolved(document, document["paths"]["/v1/follow-ups"]["post"]["responses"]["409"])
    media = conflict["content"]["application/problem+json"]
    assert media["schema"] == {"$ref": "#/components/schemas/ResourceTakenProblem"}
    assert media["examples"][ResourceTaken.code]["value"]["conflicts"]


def test_405_413_and_500_are_shared_responses_on_every_operation(app: FastAPI) -> None:
    document = app.openapi()
    shared = document["components"]["responses"]
    assert shared["MethodNotAllowed"]["headers"]["Allow"]
    for method, path, operation in _operations(document):
        responses = operation["responses"]
        assert responses["405"] == {"$ref": "#/components/responses/MethodNotAllowed"}, path
        assert responses["413"] == {"$ref": "#/components/responses/PayloadTooLarge"}, path
        assert responses["500"] == {"$ref": "#/components/responses/InternalError"}, path
        for status, response in responses.items():
            assert "x-problem-codes" not in resolved(document, response), (method, path, status)


def test_if_match_is_required_exactly_where_the_server_answers_428(app: FastAPI) -> None:
    document = app.openapi()
    required = []
    for method, path, operation in _operations(document):
        parameters = [resolved(document, p) for p in operation.get("parameters", [])]
        if_match = [p for p in parameters if p["name"] == "If-Match"]
        if "428" in operation["responses"]:
            assert if_match[0]["required"] is True, (method, path)
            required.append((method, path))
    occurrence = "/v1/follow-ups/{follow_up_id}/occurrences/{original_start}"
    assert sorted(required) == [
        ("delete", f"{occurrence}/participants/{{participant_id}}"),
        ("patch", "/v1/follow-ups/{follow_up_id}"),
        ("patch", occurrence),
        ("post", f"{occurrence}/participants"),
        ("post", f"{occurrence}/split"),
    ]


def test_optional_parameters_are_absent_rather_than_null(app: FastAPI) -> None:
    document = app.openapi()
    for method, path, operation in _operations(document):
        for parameter in operation.get("parameters", []):
            schema = resolved(document, parameter)["schema"]
            assert {"type": "null"} not in schema.get("anyOf", []), (method, path, parameter)
    invitations = document["paths"]["/v1/invitations"]["get"]["parameters"]
    (status,) = [p for p in invitations if p.get("name") == "status"]
    assert status["schema"] == {"$ref": "#/components/schemas/ParticipantStatus"}


def test_enforced_limits_are_in_the_schema(app: FastAPI) -> None:
    schemas = app.openapi()["components"]["schemas"]
    webhook = schemas["WebhookCreate"]["properties"]
    assert webhook["event_types"]["uniqueItems"] is True
    assert webhook["url"]["pattern"].startswith("^https://")
    start = schemas["FollowUpCreate"]["properties"]["start_at"]
    assert "1900" in start["description"]
    assert "2199" in start["description"]
    assert start["pattern"]


async def test_a_problem_code_the_server_answers_is_in_the_enum(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    codes = app.openapi()["components"]["schemas"]["ProblemCode"]["enum"]
    answers = [
        await client.get("/v1/nowhere"),
        await client.put("/v1/contacts"),
        await client.post("/v1/contacts", content=b"{"),
    ]
    assert [a.status_code for a in answers] == [404, 405, 401]
    for answer in answers:
        assert answer.json()["code"] in codes
