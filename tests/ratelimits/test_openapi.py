"""The document names the 429 and the RateLimit header fields on every rate-limited operation."""

from fastapi import FastAPI

from tests.fixtures.openapi import resolved

METHODS = {"get", "post", "patch", "put", "delete"}


def test_every_v1_operation_documents_429_and_the_headers(app: FastAPI) -> None:
    document = app.openapi()
    paths = document["paths"]

    operations = [
        (path, method, operation)
        for path, item in paths.items()
        for method, operation in item.items()
        if method in METHODS
    ]
    limited = [(p, m, o) for p, m, o in operations if p.startswith("/v1/")]
    assert len(limited) > 30
    for path, method, operation in limited:
        responses = operation["responses"]
        assert "429" in responses, (method, path)
        refused = resolved(document, responses["429"])
        assert {"Retry-After", "RateLimit", "RateLimit-Policy"} <= refused["headers"].keys()
        assert "application/problem+json" in refused["content"]
        successes = [r for status, r in responses.items() if status.startswith("2")]
        assert successes, (method, path)
        for success in successes:
            assert {"RateLimit", "RateLimit-Policy"} <= success["headers"].keys(), (method, path)
    for path, method, operation in operations:
        if not path.startswith("/v1/"):
            assert "429" not in operation["responses"], (method, path)
