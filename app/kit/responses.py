"""Responses serialised once: rows we wrote or read become models, then JSON, unvalidated.

FastAPI validates a returned model against `response_model` and then serialises it; for rows
straight from our own database that first pass only costs time. Routes on hot paths build
their model with `built()` and return `serialized()`, keeping `response_model` for the docs.
"""

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

import pydantic_core
from fastapi import Response
from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)


def built(model: type[M], source: object, *, prefix: str = "", **fields: Any) -> M:
    """A `model` from `source`'s attributes of the same names (after `prefix`), not validated.

    `fields` gives the values `source` does not have.
    """
    values = {
        name: getattr(source, prefix + name) for name in model.model_fields if name not in fields
    }
    return model.model_construct(**values, **fields)


class JsonBytes(bytes):
    """A body already serialised to JSON (by the database), sent as it is."""


def serialized(
    body: JsonBytes | BaseModel | Mapping[str, Any] | Sequence[Any],
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """The body as a JSON response, serialised by pydantic-core in one pass.

    Plain data (rows as dicts) is serialised by type, as a model's fields would be: ids and
    enums as strings, times in ISO 8601 with `Z`. `JsonBytes` is sent unchanged.
    """
    content = (
        body
        if isinstance(body, JsonBytes)
        else body.__pydantic_serializer__.to_json(body)
        if isinstance(body, BaseModel)
        else pydantic_core.to_json(body)
    )
    return Response(
        content,
        status_code=status_code,
        headers=headers,
        media_type="application/json",
    )
