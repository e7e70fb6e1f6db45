"""The README's curl walk-through, run as written against a fresh `convene serve`."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.servers import convene_env, serving

pytestmark = pytest.mark.slow

README = Path(__file__).resolve().parents[1] / "README.md"


def _walkthrough() -> str:
    text = README.read_text()
    block = re.search(
        r"<!-- walkthrough:start -->\n```bash\n(.*?)```\n<!-- walkthrough:end -->", text, re.S
    )
    assert block is not None, "the README lost its walk-through block"
    return block.group(1)


def test_readme_walkthrough(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = convene_env()
    with serving(data_dir, env) as base:
        bin_dir = str(Path(sys.executable).parent)
        result = subprocess.run(  # noqa: S603
            ["bash", "-e", "-o", "pipefail", "-c", _walkthrough()],  # noqa: S607
            env={
                **env,
                "API": base,
                "CONVENE_DATA_DIR": str(data_dir),
                "PATH": f"{bin_dir}{os.pathsep}{env['PATH']}",
            },
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:2] == ["seen", "declined"]
    assert "('associate', 'declined')" in lines[2]
    assert "('associate', 'not_read', True)" in lines[4]
    assert lines[5] == "accepted"
    assert "Budget 2027" in lines[6]
