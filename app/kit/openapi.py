"""OpenAPI helpers: problem responses per route, readable operation ids, a document for SDKs."""

from collections.abc import Callable
from copy import deepcopy
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from app.kit.errors import (
    PROBLEM_MEDIA_TYPE,
    TYPE_PREFIX,
    Forbidden,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    Problem,
    ProblemError,
    ServiceUnavailable,
    Unauthorized,
    ValidationFailed,
)
from app.kit.zones import TIME_ZONE_PARAMETER

# Where problems() notes a response's codes for the document's post-processing (then dropped).
_CODES = "x-problem-codes"
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def _schema_ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _model_of(group: list[type[ProblemError]]) -> type[Problem]:
    """The body schema of one status: Problem, or the one problem model that adds members."""
    models = {error.model for error in group} - {Problem}
    if len(models) > 1:
        raise TypeError(f"one status, several problem models: {sorted(m.__name__ for m in models)}")
    return models.pop() if models else Problem


def problems(*errors: type[ProblemError]) -> dict[int | str, dict[str, Any]]:
    """The `responses=` entry documenting these errors as problem+json."""
    by_status: dict[int, list[type[ProblemError]]] = {}
    for error in errors:
        by_status.setdefault(error.status, []).append(error)
    return {
        status: {
            "description": " / ".join(f"`{e.code}`: {e.description}" for e in group),
            "content": {
                PROBLEM_MEDIA_TYPE: {
                    "schema": _schema_ref(_model_of(group).__name__),
                    "examples": {e.code: {"value": _problem_example(e)} for e in group},
                }
            },
            _CODES: [e.code for e in group],
        }
        for status, group in sorted(by_status.items())
    }


def merge_problems(
    documented: dict[int | str, Any], added: dict[int | str, Any]
) -> dict[int | str, Any]:
    """Responses documented by a route with another's problem responses added to them."""
    merged: dict[int | str, Any] = {int(status): dict(doc) for status, doc in documented.items()}
    for status, doc in added.items():
        mine = merged.get(int(status))
        if mine is not None and "description" in mine:
            mine["description"] += " / " + doc["description"]
            mine[_CODES] = [*mine.get(_CODES, ()), *doc[_CODES]]
            _merge_examples(mine, doc)
        else:
            merged[int(status)] = {**doc, **(mine or {})}
    return merged


def _merge_examples(response: dict[str, Any], other: dict[str, Any]) -> None:
    for media_type, media in other.get("content", {}).items():
        mine = response.setdefault("content", {}).setdefault(media_type, dict(media))
        if mine is not media:
            mine["examples"] = {**mine.get("examples", {}), **media.get("examples", {})}


AUTHENTICATED = (Unauthorized, ValidationFailed, ServiceUnavailable)
READ_ONE = (*AUTHENTICATED, NotFound)
ADMIN_WRITE = (*AUTHENTICATED, Forbidden)
# Answered on any operation: by the router, the body-size limit and the catch-all handler.
EVERYWHERE = (MethodNotAllowed, PayloadTooLarge, ProblemError)


def operation_id(route: APIRoute) -> str:
    """`create_associate` becomes `createAssociate`."""
    head, *rest = route.name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _operations(schema: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        operation
        for path in schema.get("paths", {}).values()
        for method, operation in path.items()
        if method in _METHODS
    ]


def _share_parameters(
    schema: dict[str, Any], location: str, components: dict[str, str] | None = None
) -> None:
    """Parameters in `location` that several operations take alike become one component each.

    With `components` (parameter name to component name), only those are shared, each under
    its given name even if one operation takes it, and every taker must declare it alike.
    """
    uses: dict[str, list[tuple[list[Any], int]]] = {}
    found: dict[str, Any] = {}
    for operation in _operations(schema):
        for index, parameter in enumerate(operation.get("parameters", [])):
            name = parameter.get("name")
            if parameter.get("in") != location or (components and name not in components):
                continue
            if found.setdefault(name, parameter) == parameter:
                uses.setdefault(name, []).append((operation["parameters"], index))
            elif components:
                raise AssertionError(f"{name} is declared differently")
    for name, places in uses.items():
        if components is None and len(places) < 2:
            continue
        component = components[name] if components else name.replace("-", "")
        schema["components"].setdefault("parameters", {})[component] = found[name]
        for parameters, index in places:
            parameters[index] = {"$ref": f"#/components/parameters/{component}"}


def _all_problem_classes() -> list[type[ProblemError]]:
    found: list[type[ProblemError]] = []
    pending: list[type[ProblemError]] = [ProblemError]
    while pending:
        error = pending.pop()
        # HTTPProblem classes are made per framework error of an unlisted status, when it
        # happens: not a code of ours, and not something to make the document vary with.
        if error.__name__ != "HTTPProblem":
            found.append(error)
        pending.extend(error.__subclasses__())
    return found


def _add_problem_schemas(schemas: dict[str, Any]) -> None:
    """Problem, the models that extend it, and ProblemCode: every code the server answers with."""
    classes = _all_problem_classes()
    schemas["ProblemCode"] = {
        "type": "string",
        "title": "ProblemCode",
        "description": "The stable code of a problem; each response lists the ones it may carry",
        "enum": sorted({error.code for error in classes}),
    }
    for model in sorted({error.model for error in classes}, key=lambda m: m.__name__):
        body = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(body.pop("$defs", {}))
        body["properties"]["code"] = _schema_ref("ProblemCode")
        schemas[model.__name__] = body


def _pascal(code: str) -> str:
    return "".join(part.capitalize() for part in code.split("_"))


def _share_problem_responses(schema: dict[str, Any]) -> None:
    """Problem responses with one code, alike in several operations, become shared components.

    The ones every operation can answer (405, 413, 500) are added to each operation here.
    """
    shared = schema["components"].setdefault("responses", {})
    everywhere = problems(*EVERYWHERE)
    everywhere[405]["headers"] = {
        "Allow": {"description": "The methods this path serves", "schema": {"type": "string"}}
    }
    operations = _operations(schema)
    for operation in operations:
        responses = operation.setdefault("responses", {})
        for status, response in everywhere.items():
            responses.setdefault(str(status), deepcopy(response))
    uses: dict[str, list[tuple[dict[str, Any], str]]] = {}
    found: dict[str, dict[str, Any]] = {}
    for operation in operations:
        for status, response in operation["responses"].items():
            codes = response.get(_CODES)
            if codes is None or len(codes) != 1:
                continue
            name = _pascal(codes[0])
            if found.setdefault(name, response) == response:
                uses.setdefault(name, []).append((operation["responses"], status))
    for name, places in uses.items():
        if len(places) < 2:
            continue
        shared[name] = found[name]
        for responses, status in places:
            responses[status] = {"$ref": f"#/components/responses/{name}"}
    schema["components"]["responses"] = dict(sorted(shared.items()))
    for response in [*shared.values(), *(r for o in operations for r in o["responses"].values())]:
        response.pop(_CODES, None)


def _without_null(parameter: dict[str, Any]) -> None:
    """An optional query or header parameter is absent, never null: drop `null` from its type."""
    options = parameter["schema"].get("anyOf")
    if not options or {"type": "null"} not in options or len(options) != 2:
        return
    (kept,) = [option for option in options if option != {"type": "null"}]
    rest = {k: v for k, v in parameter["schema"].items() if k not in ("anyOf", "title")}
    parameter.setdefault("description", rest.pop("description", None))
    parameter["schema"] = kept if "$ref" in kept else {**kept, **rest}


def _tidy_parameters(schema: dict[str, Any]) -> None:
    """Optional parameters without `null`; If-Match required where the server requires it."""
    for operation in _operations(schema):
        requires_if_match = "428" in operation.get("responses", {})
        for parameter in operation.get("parameters", []):
            if parameter.get("in") not in ("query", "header"):
                continue
            _without_null(parameter)
            if parameter["name"] == "If-Match" and requires_if_match:
                parameter["required"] = True


def _lift_body_examples(schema: dict[str, Any]) -> None:
    """A request body model's examples go to the media type, each a whole, valid request.

    Left on the model they would be examples of a schema, which tools also combine with
    other parts into requests no one wrote.
    """
    schemas = schema["components"]["schemas"]
    lifted: set[str] = set()
    for operation in _operations(schema):
        for media in operation.get("requestBody", {}).get("content", {}).values():
            body = media.get("schema", {})
            refs = [body, *body.get("anyOf", [])]
            names = [r["$ref"].rsplit("/", 1)[1] for r in refs if "$ref" in r]
            examples = {
                f"{name}{index or ''}": {"value": value}
                for name in names
                for index, value in enumerate(schemas[name].get("examples", []))
            }
            if examples:
                media["examples"] = examples
                lifted.update(names)
    for name in lifted:
        schemas[name].pop("examples", None)


def _problem_example(error: type[ProblemError]) -> dict[str, Any]:
    return {
        "type": TYPE_PREFIX + error.code,
        "title": error.title,
        "status": error.status,
        "detail": error.title,
        "code": error.code,
        "instance": "/v1/follow-ups",
        "request_id": "4bf92f3577b34da6a3ce929d0e0e4736",
        **error.example,
    }


def install_openapi(app: FastAPI, *extensions: Callable[[dict[str, Any]], None]) -> None:
    """Generate the schema once, with the Problem schema every error response refers to.

    Each extension then adds to the document what the routes do not describe (webhooks).
    """

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
            )
            schemas = schema.setdefault("components", {}).setdefault("schemas", {})
            _add_problem_schemas(schemas)
            schema["components"]["schemas"] = dict(sorted(schemas.items()))
            _lift_body_examples(schema)
            _tidy_parameters(schema)
            _share_parameters(schema, "header")
            _share_parameters(schema, "query", {TIME_ZONE_PARAMETER: "TimeZone"})
            _share_problem_responses(schema)
            for extend in extensions:
                extend(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
