"""SQL that writes a response model's JSON in the database, byte for byte as pydantic would.

For a hot list, turning rows into models (or dicts) and serialising them costs the API more
CPU than the statement costs PostgreSQL; a statement that concatenates the finished body lets
the route send it as it is (`JsonBytes`). `json_object()` writes one model's object from its
fields, in field order, each value by its type: strings through `to_json` (escaped as
pydantic-core and `json.dumps(s, ensure_ascii=False)` escape them), ids and state words
quoted, instants as pydantic-core formats them (see `instant()`), dates as `YYYY-MM-DD`,
booleans and nulls bare. Everything here returns SQL text to be spliced into a statement
written in the repository.
"""

import types
import typing
import uuid
from collections.abc import Callable, Mapping
from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel

_DATE_TIME = """'YYYY-MM-DD"T"HH24:MI:SS'"""
_DATE_TIME_MICROS = """'YYYY-MM-DD"T"HH24:MI:SS.US'"""


def quoted(sql: str) -> str:
    """A value that needs no escaping (an id, a state word) as a JSON string, or null."""
    return f"""coalesce('"' || {sql} || '"', 'null')"""


def string(sql: str) -> str:
    """Text as a JSON string (escaped by `to_json`, as pydantic-core escapes it), or null."""
    return f"coalesce(to_json({sql})::text, 'null')"


def boolean(sql: str) -> str:
    """A boolean as `true`/`false`, or null."""
    return f"coalesce(({sql})::text, 'null')"


def day(sql: str) -> str:
    """A date (or a local timestamp's date) as `"YYYY-MM-DD"`, or null."""
    return quoted(f"to_char({sql}, 'YYYY-MM-DD')")


def instant(sql: str, zone: str) -> str:
    """A timestamptz as pydantic-core writes it shown in `zone` (an SQL text, NULL for UTC).

    Microseconds only when there are some; `Z` for UTC and for any zone at offset zero then;
    otherwise the offset as `±HH:MM`, its seconds (old local mean times) cut off as
    pydantic-core cuts them, while the wall time keeps them.
    """
    local = f"({sql} AT TIME ZONE coalesce({zone}, 'UTC'))"
    offset = f"({local} - ({sql} AT TIME ZONE 'UTC'))"
    shown_offset = (
        f"CASE WHEN {zone} IS NULL OR {offset} = interval '0' THEN 'Z' "
        f"WHEN {offset} > interval '0' THEN '+' || to_char({offset}, 'HH24:MI') "
        f"ELSE '-' || to_char(-{offset}, 'HH24:MI') END"
    )
    wall = (
        f"to_char({local}, CASE WHEN date_trunc('second', {local}) = {local} "
        f"THEN {_DATE_TIME} ELSE {_DATE_TIME_MICROS} END)"
    )
    return quoted(f"{wall} || {shown_offset}")


def _writer(annotation: object, zone: str) -> Callable[[str], str]:
    """How a field of this type is written; nested models need an override."""
    args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
    if isinstance(annotation, types.UnionType) and len(args) == 1:
        annotation = args[0]
    if annotation is datetime:
        return lambda sql: instant(sql, zone)
    if annotation is date:
        return day
    if annotation is bool:
        return boolean
    if annotation is uuid.UUID:
        return lambda sql: quoted(f"{sql}::text")
    if isinstance(annotation, type) and issubclass(annotation, StrEnum):
        return quoted
    if annotation is str:
        return string
    raise TypeError(f"no SQL JSON writer for {annotation!r}: give the field's SQL")


def json_object(
    model: type[BaseModel],
    column: Callable[[str], str],
    zone: str,
    written: Mapping[str, str] | None = None,
) -> str:
    """SQL text of `model`'s JSON object: each field from `column(name)`, written by its type.

    `written` gives the finished JSON (SQL text) of fields the columns do not hold as such
    (nested objects, values worked out from others); `zone` is passed to `instant()`.
    """
    written = written or {}
    parts = []
    for number, (name, field) in enumerate(model.model_fields.items()):
        key = ("{" if number == 0 else ",") + f'"{name}":'
        value = written[name] if name in written else _writer(field.annotation, zone)(column(name))
        parts.append(f"'{key}' || {value}")
    return "(" + " || ".join(parts) + " || '}')"
