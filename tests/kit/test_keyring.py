"""Sealing secrets: round trip, and every way a sealed value must refuse to open."""

import base64
import os
import threading
from pathlib import Path

import pytest

from app.kit.keyring import (
    LOCAL_KEY_FILE,
    Keyring,
    SealError,
    decode_key,
    is_sealed,
    kid_of,
    local_keyring,
)

OLD, NEW = os.urandom(32), os.urandom(32)
SECRET = "whsec_" + base64.b64encode(os.urandom(32)).decode()
CONTEXT = "webhook-secret:tenant-a:endpoint-1"


def test_round_trip_under_the_current_key() -> None:
    ring = Keyring({"old": OLD, "new": NEW}, "new")

    sealed = ring.seal(SECRET, CONTEXT)

    assert is_sealed(sealed)
    assert kid_of(sealed) == "new"
    assert SECRET not in sealed
    assert SECRET.removeprefix("whsec_") not in sealed
    assert ring.open(sealed, CONTEXT) == SECRET
    # A fresh nonce each time: the same secret never seals to the same value.
    assert ring.seal(SECRET, CONTEXT) != sealed


def test_a_value_sealed_under_an_older_key_still_opens_after_rotation() -> None:
    before = Keyring({"old": OLD}, "old").seal(SECRET, CONTEXT)
    rotated = Keyring({"old": OLD, "new": NEW}, "new")

    assert rotated.open(before, CONTEXT) == SECRET
    assert kid_of(rotated.seal(SECRET, CONTEXT)) == "new"


def test_a_key_id_no_longer_configured_refuses() -> None:
    sealed = Keyring({"old": OLD}, "old").seal(SECRET, CONTEXT)

    with pytest.raises(SealError, match="'old', which is not configured"):
        Keyring({"new": NEW}, "new").open(sealed, CONTEXT)


def test_the_wrong_key_under_the_same_id_refuses() -> None:
    sealed = Keyring({"k": OLD}, "k").seal(SECRET, CONTEXT)

    with pytest.raises(SealError, match="wrong key, altered"):
        Keyring({"k": NEW}, "k").open(sealed, CONTEXT)


def test_a_value_moved_to_another_row_refuses() -> None:
    ring = Keyring({"k": OLD}, "k")
    sealed = ring.seal(SECRET, CONTEXT)

    for elsewhere in (
        "webhook-secret:tenant-a:endpoint-2",
        "webhook-secret:tenant-b:endpoint-1",
    ):
        with pytest.raises(SealError):
            ring.open(sealed, elsewhere)


@pytest.mark.parametrize("part", [1, 2, 3], ids=["kid", "nonce", "ciphertext"])
def test_a_tampered_value_refuses(part: int) -> None:
    ring = Keyring({"k": OLD, "j": NEW}, "k")
    pieces = ring.seal(SECRET, CONTEXT).split(":")
    if part == 1:
        pieces[1] = "j"
    else:
        raw = bytearray(base64.urlsafe_b64decode(pieces[part] + "=" * (-len(pieces[part]) % 4)))
        raw[len(raw) // 2] ^= 0x01
        pieces[part] = base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")

    with pytest.raises(SealError):
        ring.open(":".join(pieces), CONTEXT)


@pytest.mark.parametrize(
    "value",
    [SECRET, "v1:k:only-three", "v2:k:a:b", "", "v1:k:!!:!!"],
    ids=["plain-secret", "three-pieces", "unknown-version", "empty", "not-base64"],
)
def test_what_is_not_a_sealed_value_refuses(value: str) -> None:
    with pytest.raises(SealError):
        Keyring({"k": OLD}, "k").open(value, CONTEXT)


def test_keys_must_be_32_bytes_and_ids_plain() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        Keyring({"k": b"short"}, "k")
    with pytest.raises(ValueError, match="letters, digits"):
        Keyring({"a:b": OLD}, "a:b")
    with pytest.raises(ValueError, match="not among"):
        Keyring({"k": OLD}, "j")
    assert decode_key(base64.b64encode(OLD).decode()) == OLD
    assert decode_key(base64.urlsafe_b64encode(OLD).decode().rstrip("=")) == OLD
    with pytest.raises(ValueError, match="16 bytes"):
        decode_key(base64.b64encode(b"x" * 16).decode())


def test_the_local_key_is_made_once_even_by_processes_starting_together(tmp_path: Path) -> None:
    rings: list[Keyring] = []
    threads = [
        threading.Thread(target=lambda: rings.append(local_keyring(tmp_path))) for _ in "abcd"
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len({bytes(r.keys["local"]) for r in rings}) == 1
    assert [p.name for p in tmp_path.iterdir()] == [LOCAL_KEY_FILE]
