"""OpenAPI helpers: problem responses per route, readable operation ids, problem media type."""

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from app.kit.errors import (
    PROBLEM_MEDIA_TYPE,
    Forbidden,
    NotFound,
    Problem,
    ProblemError,
    ServiceUnavailable,
    Unauthorized,
    ValidationFailed,
)
from app.kit.zones import TIME_ZONE_PARAMETER

_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


def problems(*errors: type[ProblemError]) -> dict[int | str, dict[str, Any]]:
    """The `responses=` entry documenting these errors as problem+json."""
    by_status: dict[int, list[type[ProblemError]]] = {}
    for error in errors:
        by_status.setdefault(error.status, []).append(error)
    return {
        status: {
            "description": " / ".join(f"`{e.code}`: {e.description}" for e in group),
            "content": {PROBLEM_MEDIA_TYPE: {"schema": _PROBLEM_REF}},
        }
        for status, group in sorted(by_status.items())
    }


AUTHENTICATED = (Unauthorized, ValidationFailed, ServiceUnavailable)
READ_ONE = (*AUTHENTICATED, NotFound)
ADMIN_WRITE = (*AUTHENTICATED, Forbidden)


def operation_id(route: APIRoute) -> str:
    """`create_associate` becomes `createAssociate`."""
    head, *rest = route.name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _share_header_parameters(schema: dict[str, Any]) -> None:
    """A header parameter that several operations take alike becomes one reusable component."""
    uses: dict[str, list[tuple[list[Any], int]]] = {}
    found: dict[str, Any] = {}
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            for index, parameter in enumerate(operation.get("parameters", [])):
                if parameter.get("in") != "header":
                    continue
                name = parameter["name"]
                if found.setdefault(name, parameter) == parameter:
                    uses.setdefault(name, []).append((operation["parameters"], index))
    for name, places in uses.items():
        if len(places) < 2:
            continue
        component = name.replace("-", "")
        schema["components"].setdefault("parameters", {})[component] = found[name]
        for parameters, index in places:
            parameters[index] = {"$ref": f"#/components/parameters/{component}"}


def _share_query_parameter(schema: dict[str, Any], name: str, component: str) -> None:
    """A query parameter every taker declares alike becomes one component they all refer to."""
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            for index, parameter in enumerate(operation.get("parameters", [])):
                if parameter.get("in") == "query" and parameter.get("name") == name:
                    shared = schema["components"].setdefault("parameters", {})
                    found = shared.setdefault(component, parameter)
                    assert found == parameter, f"{name} is declared differently"
                    operation["parameters"][index] = {
                        "$ref": f"#/components/parameters/{component}"
                    }


def install_openapi(app: FastAPI) -> None:
    """Generate the schema once, with the Problem schema every error response refers to."""

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
            problem_schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(problem_schema.pop("$defs", {}))
            schemas["Problem"] = problem_schema
            _share_header_parameters(schema)
            _share_query_parameter(schema, TIME_ZONE_PARAMETER, "TimeZone")
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
