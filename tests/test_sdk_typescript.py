"""TypeScript types generated from openapi/openapi.json type-check sdk/typescript/book.ts."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

NPM = shutil.which("npm")
pytestmark = pytest.mark.skipif(NPM is None, reason="npm is not installed (needs Node and npm)")

SDK = Path(__file__).resolve().parents[1] / "sdk" / "typescript"
# All openapi-typescript prints when nothing is wrong; anything else (a warning) fails.
QUIET = re.compile(r"^(✨ openapi-typescript \S+|🚀 .* → .*)$")


def _run(*args: str, cwd: Path = SDK) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603
        args, cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.fixture(scope="module")
def generated() -> Path:
    """`npm ci` if needed, then `npm run generate`: sdk/typescript/schema.d.ts, warning-free."""
    assert NPM is not None
    if not (SDK / "node_modules" / ".bin" / "tsc").exists():
        installed = _run(NPM, "ci", "--no-audit", "--no-fund")
        assert installed.returncode == 0, installed.stderr
    result = _run(NPM, "run", "--silent", "generate")
    output = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert result.returncode == 0, output
    assert all(QUIET.match(line) for line in output), "\n".join(output)
    return SDK / "schema.d.ts"


def test_the_program_type_checks_against_the_generated_types(generated: Path) -> None:
    assert "export interface webhooks" in generated.read_text()
    result = _run(NPM, "run", "--silent", "check")
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_program_the_document_does_not_allow_fails(generated: Path, tmp_path: Path) -> None:
    # The check is not blind: an answer the API refuses is a type error, and so is a webhook
    # field that its payload does not carry.
    for name in ("tsconfig.json", "book.ts"):
        shutil.copy(SDK / name, tmp_path / name)
    shutil.copy(generated, tmp_path / "schema.d.ts")
    program = (SDK / "book.ts").read_text()
    wrongs = {'status: "declined"': 'status: "maybe"', "data.has_comment": "data.comment"}
    for right, wrong in wrongs.items():
        assert right in program
        program = program.replace(right, wrong, 1)
    (tmp_path / "book.ts").write_text(program)
    tsc = str(SDK / "node_modules" / ".bin" / "tsc")
    result = _run(tsc, "--noEmit", "--strict", "-p", str(tmp_path), cwd=tmp_path)
    assert result.returncode != 0
    assert '"maybe"' in result.stdout, result.stdout
    assert "'comment' does not exist" in result.stdout, result.stdout
