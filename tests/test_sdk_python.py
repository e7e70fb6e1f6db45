"""A Python client generated from openapi/openapi.json runs the README's walk-through."""

import importlib
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from app.cli import OPENAPI_PATH
from tests.fixtures.servers import convene_env, run_cli, serving

pytestmark = pytest.mark.slow

PACKAGE = "convene_sdk_check"
# All the generator prints when nothing is wrong; anything else (a warning) fails the test.
QUIET = re.compile(r"^Generating .*$")
CONFIG = Path(__file__).parents[1] / "sdk" / "python" / "openapi-python-client.yaml"


def _run_generator(document: Path, package: Path) -> list[str]:
    """Run openapi-python-client on `document` into `package`; its output lines."""
    tool = Path(sys.executable).parent / "openapi-python-client"
    assert tool.exists(), "openapi-python-client is in the test extra: pip install -e '.[test]'"
    result = subprocess.run(  # noqa: S603
        [
            *(str(tool), "generate", "--meta", "none"),
            "--path",
            str(document),
            "--output-path",
            str(package),
            "--config",
            str(CONFIG),
        ],
        # Its post hooks run ruff, which is in this environment's bin.
        env={**os.environ, "PATH": f"{tool.parent}{os.pathsep}{os.environ['PATH']}"},
        cwd=package.parent,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]


def _generate(into: Path) -> Path:
    """The client generated from the committed document; fails on any warning."""
    package = into / PACKAGE
    output = _run_generator(OPENAPI_PATH, package)
    assert all(QUIET.match(line) for line in output), "\n".join(output)
    assert (package / "client.py").exists(), output
    return package


@pytest.fixture
def sdk(tmp_path: Path) -> Iterator[ModuleType]:
    """The generated package, importable for this test only."""
    _generate(tmp_path)
    sys.path.insert(0, str(tmp_path))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(tmp_path))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def _demo(data_dir: Path, env: dict[str, str]) -> dict[str, str]:
    """`convene demo`'s exports (ids and tokens) as a dict."""
    result = run_cli("--data-dir", str(data_dir), "demo", env=env)
    assert result.returncode == 0, result.stderr
    found = re.findall(r"^export (\w+)=(\S+)", result.stdout, re.M)
    return dict(found)


class Walk:
    """The generated client's operations, called as one demo colleague or the admin."""

    def __init__(self, sdk: ModuleType, base: str, tokens: dict[str, str]) -> None:
        self.sdk = sdk
        self.clients = {
            who: sdk.AuthenticatedClient(
                base_url=base, token=token, raise_on_unexpected_status=True
            )
            for who, token in tokens.items()
        }

    def close(self) -> None:
        for client in self.clients.values():
            client.get_httpx_client().close()

    def call(self, operation: str, who: str, **kwargs: Any) -> Any:
        """`api/<tag>/<operation>.sync_detailed(...)`; the parsed body of a 2xx, else fail."""
        tag, name = operation.split(".")
        module = importlib.import_module(f"{self.sdk.__name__}.api.{tag}.{name}")
        response = module.sync_detailed(client=self.clients[who], **kwargs)
        assert 200 <= response.status_code < 300, (operation, response.content)
        return response

    def model(self, name: str, body: dict[str, Any]) -> Any:
        """A request model of the generated package, built from JSON as the README sends it."""
        module = importlib.import_module(f"{self.sdk.__name__}.models")
        return getattr(module, name).from_dict(body)


def test_the_readme_walkthrough_through_the_generated_client(
    tmp_path: Path, sdk: ModuleType
) -> None:
    data_dir = tmp_path / "data"
    env = convene_env()
    with serving(data_dir, env) as base:
        demo = _demo(data_dir, env)
        walk = Walk(sdk, base, {"ada": demo["ADA"], "bo": demo["BO"], "admin": demo["ADMIN"]})
        try:
            _walk(walk, demo)
        finally:
            walk.close()


def _walk(walk: Walk, demo: dict[str, str]) -> None:
    """The README's walk-through, step by step, through the generated client."""

    # Ada books Bo, the Fjord room and Dina from Nordlys A/S for a morning in December.
    def first(operation: str, external_id: str) -> Any:
        page = walk.call(operation, "ada", external_id=external_id).parsed
        return page.items[0].id

    room = first("resources.list_resources", "demo-fjord")
    dina = first("persons.list_persons", "demo-dina")
    nordlys = first("contacts.list_contacts", "demo-nordlys")
    body = {
        "title": "Budget 2027",
        "start_at": "2026-12-07T10:00:00+01:00",
        "end_at": "2026-12-07T11:00:00+01:00",
        "participants": [
            {"associate_id": demo["BO_ID"]},
            {"resource_id": str(room)},
            {"person_id": str(dina)},
        ],
    }
    created = walk.call(
        "follow_ups.create_follow_up", "ada", body=walk.model("FollowUpCreate", body)
    )
    assert created.status_code == 201
    follow_up = created.parsed.id

    # Bo finds the invitation, marks it seen, and declines.
    inbox = walk.call("invitations.list_invitations", "bo").parsed.items
    (invitation,) = [i for i in inbox if i.follow_up.id == follow_up]
    assert invitation.status == "not_read"
    seen = walk.call("invitations.mark_invitation_seen", "bo", participant_id=invitation.id)
    assert seen.parsed.status == "seen"
    declined = walk.call(
        "invitations.respond_to_invitation",
        "bo",
        participant_id=invitation.id,
        body=walk.model("ResponseRequest", {"status": "declined", "comment": "On leave"}),
    )
    assert declined.parsed.status == "declined"

    # Ada reads the participants, clicks "Understood", and moves the meeting.
    participants = walk.call("follow_ups.list_participants", "ada", follow_up_id=follow_up).parsed
    assert ("associate", "declined") in [(p.kind, p.status) for p in participants]
    acknowledged = walk.call(
        "follow_ups.acknowledge_participant",
        "ada",
        follow_up_id=follow_up,
        participant_id=invitation.id,
    )
    assert acknowledged.parsed.acknowledged_at is not None
    etag = walk.call("follow_ups.get_follow_up", "ada", follow_up_id=follow_up).headers["etag"]
    moved = walk.call(
        "follow_ups.update_follow_up",
        "ada",
        follow_up_id=follow_up,
        if_match=etag,
        body=walk.model(
            "FollowUpUpdate",
            {"start_at": "2026-12-07T14:00:00+01:00", "end_at": "2026-12-07T15:00:00+01:00"},
        ),
    ).parsed
    states = [(p.kind, p.status, p.rescheduled) for p in moved.participants]
    assert ("associate", "not_read", True) in states

    # Bo accepts the new time; Nordlys' activity archive shows the meeting.
    accepted = walk.call(
        "invitations.respond_to_invitation",
        "bo",
        participant_id=invitation.id,
        body=walk.model("ResponseRequest", {"status": "accepted"}),
    )
    assert accepted.parsed.status == "accepted"
    activities = walk.call("follow_ups.list_contact_activities", "admin", contact_id=nordlys).parsed
    assert "Budget 2027" in [a.title for a in activities.items]


def test_generator_warnings_fail(tmp_path: Path) -> None:
    # The check above is not blind: a document with a broken reference makes the tool warn.
    broken = tmp_path / "openapi.json"
    text = OPENAPI_PATH.read_text().replace(
        '"#/components/schemas/FollowUpCreate"', '"#/components/schemas/NoSuchThing"', 1
    )
    broken.write_text(text)
    output = _run_generator(broken, tmp_path / PACKAGE)
    assert not all(QUIET.match(line) for line in output), output
