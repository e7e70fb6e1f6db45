"""Run `convene` as a real process, the way a user starts it, and wait for it to answer."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

STARTUP_SECONDS = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def convene_env(**overrides: str) -> dict[str, str]:
    """The environment for a child `convene`: no CONVENE_ settings but the ones given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVENE_")}
    env.update(overrides)
    return env


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603
        [sys.executable, "-m", "app", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@contextmanager
def serving(data_dir: Path, env: dict[str, str], port: int | None = None) -> Iterator[str]:
    """`convene serve` on a free port; yields its base URL; SIGTERM and wait on exit."""
    port = port or free_port()
    log = (data_dir.parent / f"serve-{port}.log").open("w")
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "app", "--data-dir", str(data_dir), "serve", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_healthy(base, process)
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        finally:
            log.close()
            if process.poll() is None:
                process.kill()
    assert process.returncode in (0, 128 + signal.SIGTERM), Path(log.name).read_text()


def _wait_until_healthy(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"convene serve exited with {process.returncode}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"convene serve did not answer within {STARTUP_SECONDS}s")


def postgres_running_in(pgdata: Path) -> bool:
    """Whether a postgres server process runs on this data directory."""
    pid_file = pgdata / "postmaster.pid"
    if not pid_file.exists():
        return False
    pid = int(pid_file.read_text().splitlines()[0])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
