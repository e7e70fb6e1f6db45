"""Short secrets sealed at rest: AES-256-GCM under keys with ids, so the key can rotate.

A sealed value is `v1:<kid>:<nonce>:<ciphertext>` (base64url, no padding; the ciphertext
ends in GCM's 16-byte tag). The associated data names the version, the kid and a context the
caller gives (which row and column the value belongs to), so a value copied elsewhere fails.
"""

import base64
import binascii
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

VERSION = "v1"
KEY_BYTES = 32
_NONCE_BYTES = 12
KID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,40}")
# The key id of the development key kept in the data dir.
LOCAL_KID = "local"
LOCAL_KEY_FILE = "secret-key"


class SealError(ValueError):
    """A sealed value that cannot be opened: unknown key id, wrong key, tampered or moved."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def decode_key(value: str) -> bytes:
    """A 32-byte key from base64 (standard or URL-safe alphabet); ValueError otherwise."""
    text = value.strip().replace("-", "+").replace("_", "/")
    try:
        key = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not base64") from exc
    if len(key) != KEY_BYTES:
        raise ValueError(f"{len(key)} bytes, not {KEY_BYTES}")
    return key


def is_sealed(value: str) -> bool:
    """Whether `value` has the sealed form (it may still fail to open)."""
    return value.startswith(VERSION + ":")


def kid_of(sealed: str) -> str:
    """The key id a sealed value was sealed under."""
    parts = sealed.split(":")
    if len(parts) != 4 or parts[0] != VERSION:
        raise SealError("not a sealed value")
    return parts[1]


@dataclass(frozen=True)
class Keyring:
    """Every key that may open a value, and the one new values are sealed under."""

    keys: Mapping[str, bytes]
    current: str
    _ciphers: dict[str, AESGCM] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.current not in self.keys:
            raise ValueError(f"key id {self.current!r} is not among the keys")
        for kid, key in self.keys.items():
            if not KID_PATTERN.fullmatch(kid):
                raise ValueError(f"key id {kid!r}: letters, digits, - and _ only (1-40)")
            if len(key) != KEY_BYTES:
                raise ValueError(f"key {kid!r} is not {KEY_BYTES} bytes")
            self._ciphers[kid] = AESGCM(key)

    def seal(self, plaintext: str, context: str) -> str:
        """`plaintext` sealed under the current key, bound to `context`."""
        nonce = os.urandom(_NONCE_BYTES)
        box = self._ciphers[self.current].encrypt(
            nonce, plaintext.encode(), _associated(self.current, context)
        )
        return f"{VERSION}:{self.current}:{_b64(nonce)}:{_b64(box)}"

    def open(self, sealed: str, context: str) -> str:
        """The plaintext of a value sealed for `context` under any key of the ring."""
        kid = kid_of(sealed)
        cipher = self._ciphers.get(kid)
        if cipher is None:
            raise SealError(f"sealed under key id {kid!r}, which is not configured")
        _, _, nonce, box = sealed.split(":")
        try:
            return cipher.decrypt(_unb64(nonce), _unb64(box), _associated(kid, context)).decode()
        except (InvalidTag, binascii.Error, ValueError) as exc:
            raise SealError(
                f"cannot open a value sealed under key id {kid!r}: wrong key, altered, "
                "or copied from another row"
            ) from exc


def _associated(kid: str, context: str) -> bytes:
    return f"{VERSION}:{kid}:{context}".encode()


def local_keyring(data_dir: Path) -> Keyring:
    """The development keyring: one key, generated once and kept in the data dir."""
    path = data_dir / LOCAL_KEY_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        draft = data_dir / f".{LOCAL_KEY_FILE}.{os.getpid()}.{os.urandom(4).hex()}"
        draft.touch(mode=0o600)
        draft.write_text(_b64(os.urandom(KEY_BYTES)) + "\n")
        # link() refuses to replace: of two processes starting at once, both use the first key.
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return Keyring({LOCAL_KID: decode_key(path.read_text())}, LOCAL_KID)
