"""The logging setup: the format by environment, JSON lines that parse, no uvicorn access log."""

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from pydantic import ValidationError

from app.config import Settings
from tests.fixtures.factories import TEST_SECRET


@pytest.mark.parametrize(
    ("environment", "log_format", "expected"),
    [
        ("production", None, "json"),
        ("development", None, "text"),
        ("production", "text", "text"),
        ("development", "json", "json"),
    ],
)
def test_the_format_is_json_in_production_unless_set(
    tmp_path: Path, environment: str, log_format: str | None, expected: str
) -> None:
    settings = Settings(
        environment=environment,  # type: ignore[arg-type]
        log_format=log_format,  # type: ignore[arg-type]
        jwt_secret=TEST_SECRET,
        data_dir=tmp_path,
    )

    assert settings.effective_log_format == expected


def test_an_unknown_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError):
        Settings(log_format="xml", data_dir=tmp_path)  # type: ignore[arg-type]


def logged_by(log_format: str, lines: str) -> list[str]:
    """What a fresh interpreter writes to stderr after `convene`'s logging setup, then `lines`."""
    script = (
        "import logging, logging.config, uuid\n"
        "from app.kit.logs import log_config\n"
        f"logging.config.dictConfig(log_config('info', {log_format!r}))\n" + lines
    )
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    return result.stderr.splitlines()


def test_json_lines_parse_with_exceptions_and_any_extra() -> None:
    tenant = uuid.uuid4()

    lines = logged_by(
        "json",
        "logging.getLogger('uvicorn.error').info('Uvicorn running')\n"
        "try:\n"
        "    raise ValueError('a broken thing')\n"
        "except ValueError:\n"
        f"    extra = {{'tenant': uuid.UUID('{tenant}')}}\n"
        "    logging.getLogger('app.x').exception('failed', extra=extra)\n",
    )

    first, second = (json.loads(line) for line in lines)
    assert (first["logger"], first["level"], first["message"]) == (
        "uvicorn.error",
        "INFO",
        "Uvicorn running",
    )
    assert second["tenant"] == str(tenant)
    assert "ValueError: a broken thing" in second["exc_info"]
    assert second["time"].endswith("+00:00")


def test_uvicorn_access_lines_are_not_written() -> None:
    lines = logged_by(
        "text",
        "logging.getLogger('uvicorn.access').info('127.0.0.1:5 - \"GET /healthz HTTP/1.1\" 200')\n"
        "logging.getLogger('convene.access').info('GET /healthz 200 0.1 ms')\n",
    )

    assert len(lines) == 1
    assert lines[0].endswith("INFO convene.access GET /healthz 200 0.1 ms")
