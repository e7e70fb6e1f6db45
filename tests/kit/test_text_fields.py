"""Every text field of the API under the text rules: refused with a 422 that names the character,
kept when allowed, and stated in the OpenAPI document."""

from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.kit.text import MULTI_LINE, SINGLE_LINE
from tests.fixtures.factories import Caller, create_contact, follow_up_body
from tests.fixtures.problems import assert_invalid
from tests.followups.support import book, fetch, respond
from tests.webhooks.management import PUBLIC

Body = dict[str, Any]
Send = Callable[[Caller, Any], Awaitable[httpx.Response]]

RLO, LRI, ZWSP, LS = "\u202e", "\u2066", "\u200b", "\u2028"


def _with(base: Body, field: str) -> Callable[[Any], Body]:
    return lambda value: {**base, field: value}


def _post(path: str, base: Body, field: str) -> Send:
    body = _with(base, field)
    return lambda admin, value: admin.post(path, json=body(value))


async def _patch_contact(admin: Caller, value: Any) -> httpx.Response:
    contact = await create_contact(admin)
    return await admin.patch(f"/v1/contacts/{contact['id']}", json={"phone": value})


async def _post_person(admin: Caller, value: Any) -> httpx.Response:
    contact = await create_contact(admin)
    body = {"contact_id": contact["id"], "name": "Bo", "email": value}
    return await admin.post("/v1/persons", json=body)


async def _follow_up(field: str, admin: Caller, value: Any) -> httpx.Response:
    member = await admin.new_member()
    return await member.post("/v1/follow-ups", json=follow_up_body(**{field: value}))


async def _cancel(admin: Caller, value: Any) -> httpx.Response:
    member = await admin.new_member()
    created = await book(member)
    return await member.post(f"/v1/follow-ups/{created['id']}/cancel", json={"reason": value})


async def _answer(admin: Caller, value: Any) -> httpx.Response:
    organizer, invitee = await admin.new_member(), await admin.new_member()
    created = await book(organizer, invitee)
    (invitation,) = [p["id"] for p in created["participants"] if p["role"] != "organizer"]
    body = {"status": "declined", "comment": value}
    return await invitee.post(f"/v1/invitations/{invitation}/response", json=body)


async def _external_id_filter(admin: Caller, value: Any) -> httpx.Response:
    return await admin.get("/v1/associates", params={"external_id": value})


ASSOCIATE = {"name": "Ada", "email": "ada@example.com", "time_zone": "Europe/Copenhagen"}
EVENT_TYPES = {"event_types": ["invitation.accepted"]}
WEBHOOK = {"url": PUBLIC, **EVENT_TYPES}

# (field, how to send a value in it, where the error points, its rule)
SINGLE_LINE_FIELDS: list[tuple[str, Send, tuple[str, ...]]] = [
    ("associate name", _post("/v1/associates", ASSOCIATE, "name"), ("body", "name")),
    ("associate email", _post("/v1/associates", ASSOCIATE, "email"), ("body", "email")),
    (
        "associate external_id",
        _post("/v1/associates", ASSOCIATE, "external_id"),
        ("body", "external_id"),
    ),
    ("resource name", _post("/v1/resources", {"kind": "room"}, "name"), ("body", "name")),
    ("contact name", _post("/v1/contacts", {}, "name"), ("body", "name")),
    ("contact phone", _patch_contact, ("body", "phone")),
    ("person email", _post_person, ("body", "email")),
    ("follow-up title", lambda a, v: _follow_up("title", a, v), ("body", "title")),
    ("follow-up location", lambda a, v: _follow_up("location", a, v), ("body", "location")),
    ("webhook description", _post("/v1/webhooks", WEBHOOK, "description"), ("body", "description")),
    ("webhook url", _post("/v1/webhooks", EVENT_TYPES, "url"), ("body", "url")),
    ("external_id filter", _external_id_filter, ("query", "external_id")),
]  # fmt: skip
MULTI_LINE_FIELDS: list[tuple[str, Send, tuple[str, ...]]] = [
    ("description", lambda a, v: _follow_up("description", a, v), ("body", "description")),
    ("cancel reason", _cancel, ("body", "reason")),
    ("answer comment", _answer, ("body", "comment")),
]  # fmt: skip


def _cases(fields: list[tuple[str, Send, tuple[str, ...]]], values: dict[str, str]) -> list[Any]:
    return [
        pytest.param(send, loc, value, id=f"{name}: {label}")
        for name, send, loc in fields
        for label, value in values.items()
    ]


def _valid(loc: tuple[str, ...], inside: str) -> str:
    """A value that is valid but for the character inside it (urls and e-mails have a shape)."""
    if loc[-1] == "url":
        return f"https://example.com/a{inside}b"
    if loc[-1] == "email":
        return f"a{inside}b@example.com"
    return f"Budget{inside}2027"


@pytest.mark.parametrize(
    ("send", "loc", "character"),
    _cases(
        SINGLE_LINE_FIELDS,
        {"RLO": RLO, "isolate": LRI, "zero width": ZWSP, "line separator": LS, "C1": "\x9b"},
    ),
)
async def test_single_line_fields_refuse_format_characters(
    admin: Caller, send: Send, loc: tuple[str, ...], character: str
) -> None:
    problem = assert_invalid(await send(admin, _valid(loc, character)), *loc)

    (error,) = problem["errors"]
    assert error["type"] == "text_character"
    assert f"U+{ord(character):04X}" in error["msg"]
    assert f"U+{ord(character):04X}" in problem["detail"]


@pytest.mark.parametrize(
    ("send", "loc", "character"),
    _cases(
        MULTI_LINE_FIELDS,
        {"RLO": RLO, "isolate": LRI, "line separator": LS, "carriage return": "\r", "ESC": "\x1b"},
    ),
)
async def test_multi_line_fields_refuse_bidi_controls_and_other_controls(
    admin: Caller, send: Send, loc: tuple[str, ...], character: str
) -> None:
    problem = assert_invalid(await send(admin, f"First line\nsecond {character} line"), *loc)

    assert problem["errors"][0]["type"] == "text_character"


EMOJI = "\U0001f469\u200d\U0001f4bb"  # woman technologist: two emoji joined by ZWJ


async def test_multi_line_text_keeps_line_feeds_tabs_and_emoji_sequences(admin: Caller) -> None:
    organizer, invitee = await admin.new_member(), await admin.new_member()
    description = (
        f"Agenda:\n\t1. Budget {EMOJI}\n\t2. \u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"
    )
    created = await book(organizer, invitee, description=description)
    (invitation,) = [p["id"] for p in created["participants"] if p["role"] != "organizer"]

    answered = await respond(invitee, invitation, "declined", comment=f"Away\t{EMOJI}\nSorry")

    assert (await fetch(organizer, created["id"]))["description"] == description
    assert answered["comment"] == f"Away\t{EMOJI}\nSorry"


async def test_single_line_text_keeps_letters_of_every_script(admin: Caller) -> None:
    name = "\u00c6ble \u0639\u0644\u064a \u5f20\u4f1f \u00e9\u0301 \U0001f469"
    created = await admin.create("/v1/contacts", {"name": name})

    assert created["name"] == name


def _strings(schema: Any, document: Body) -> Iterator[Body]:
    """Every string schema inside `schema`, following $refs and combinators."""
    if not isinstance(schema, dict):
        return
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        yield from _strings(document["components"]["schemas"][name], document)
        return
    if schema.get("type") == "string":
        yield schema
    for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
        for part in schema.get(key, []):
            yield from _strings(part, document)
    for key in ("items", "additionalProperties"):
        yield from _strings(schema.get(key), document)
    for part in schema.get("properties", {}).values():
        yield from _strings(part, document)


def _resolved(parameter: Body, document: Body) -> Body:
    """A parameter, or the shared component it refers to (`#/components/parameters/…`)."""
    if "$ref" not in parameter:
        return parameter
    found: Body = document
    for part in parameter["$ref"].removeprefix("#/").split("/"):
        found = found[part]
    return found


def _inputs(document: Body) -> Iterator[tuple[str, Body]]:
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            for named in operation.get("parameters", []):
                parameter = _resolved(named, document)
                if parameter["in"] == "query":
                    for schema in _strings(parameter["schema"], document):
                        yield f"{where} ?{parameter['name']}", schema
            for content in operation.get("requestBody", {}).get("content", {}).values():
                for schema in _strings(content["schema"], document):
                    yield f"{where} body", schema


def test_the_document_states_a_rule_for_every_free_text_input(app: FastAPI) -> None:
    document = app.openapi()
    free_text = []
    for where, schema in _inputs(document):
        if "format" in schema or "enum" in schema or "const" in schema:
            continue  # ids, times, zone names and states are not free text
        pattern = schema.get("pattern")
        assert pattern is not None, f"{where}: a string without a pattern"
        if "[^" not in pattern:
            continue  # a whole shape (HH:MM, a cursor), not a set of refused characters
        free_text.append(where)
        assert SINGLE_LINE.refused_class in pattern or pattern == MULTI_LINE.pattern, where
    assert len(free_text) >= 20


async def test_a_lone_surrogate_is_a_422_not_a_500(admin: Caller) -> None:
    member = await admin.new_member()
    body = '{"title": "Budget \\ud800", "start_at": "2026-03-30T09:00:00+02:00", '
    body += '"end_at": "2026-03-30T10:00:00+02:00"}'

    response = await member.post(
        "/v1/follow-ups", content=body, headers={"content-type": "application/json"}
    )

    assert_invalid(response, "body", "title")
