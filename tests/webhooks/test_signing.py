"""Standard Webhooks secrets and signatures, checked against the reference library."""

import base64
import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from app.webhooks.signing import SECRET_PREFIX, generate_secret, signature, signed_headers

BODY = json.dumps(
    {
        "type": "invitation.accepted",
        "timestamp": "2026-11-25T10:00:00Z",
        "data": {
            "status": "accepted",
            "comment": "Gerne, bis dann \u2713 \u00e6\u00f8\u00e5",
            "seq": 3,
        },
    },
    ensure_ascii=False,
).encode()


def message() -> tuple[str, int]:
    """A message id and a timestamp the reference library accepts (within 5 minutes)."""
    return str(uuid.uuid4()), int(time.time())


# Secrets ------------------------------------------------------------------------------------


def test_secret_is_whsec_and_32_random_bytes() -> None:
    secrets_ = {generate_secret() for _ in range(50)}

    assert len(secrets_) == 50
    for secret in secrets_:
        assert secret.startswith(SECRET_PREFIX)
        assert SECRET_PREFIX == "whsec_"
        key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
        assert len(key) == 32
    keys = [base64.b64decode(s.removeprefix("whsec_")) for s in secrets_]
    assert len({key[:8] for key in keys}) == 50


def test_secret_fits_the_column() -> None:
    assert len(generate_secret()) <= 100


# Signatures ---------------------------------------------------------------------------------


def test_signature_verifies_with_the_reference_library() -> None:
    secret = generate_secret()
    message_id, timestamp = message()

    headers = signed_headers([secret], message_id, timestamp, BODY)

    assert headers["webhook-id"] == message_id
    assert headers["webhook-timestamp"] == str(timestamp)
    assert headers["content-type"] == "application/json"
    assert headers["webhook-signature"].startswith("v1,")
    assert Webhook(secret).verify(BODY, headers) == json.loads(BODY)


def test_signature_equals_the_reference_signature() -> None:
    secret = generate_secret()
    message_id, timestamp = message()
    when = datetime.fromtimestamp(timestamp, UTC)

    ours = signature(secret, message_id, timestamp, BODY)

    assert ours == Webhook(secret).sign(message_id, when, BODY.decode())


def test_two_secrets_in_one_header_both_verify() -> None:
    old, new = generate_secret(), generate_secret()
    message_id, timestamp = message()

    headers = signed_headers([new, old], message_id, timestamp, BODY)

    parts = headers["webhook-signature"].split(" ")
    assert len(parts) == 2
    assert all(part.startswith("v1,") for part in parts)
    assert Webhook(new).verify(BODY, headers)
    assert Webhook(old).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(generate_secret()).verify(BODY, headers)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda body: body.replace(b'"accepted"', b'"declined"', 1),
        lambda body: body + b" ",
        lambda body: body[:-1],
        lambda body: b"",
    ],
    ids=["changed", "appended", "truncated", "emptied"],
)
def test_a_tampered_body_fails(tamper: Callable[[bytes], bytes]) -> None:
    secret = generate_secret()
    message_id, timestamp = message()
    headers = signed_headers([secret], message_id, timestamp, BODY)

    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(tamper(BODY), headers)


def test_a_changed_id_or_timestamp_fails() -> None:
    secret = generate_secret()
    message_id, timestamp = message()
    headers = signed_headers([secret], message_id, timestamp, BODY)

    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY, {**headers, "webhook-id": str(uuid.uuid4())})
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY, {**headers, "webhook-timestamp": str(timestamp + 1)})


def test_the_wrong_secret_fails() -> None:
    message_id, timestamp = message()
    headers = signed_headers([generate_secret()], message_id, timestamp, BODY)

    with pytest.raises(WebhookVerificationError):
        Webhook(generate_secret()).verify(BODY, headers)


def test_an_old_timestamp_is_refused_by_receivers() -> None:
    """The timestamp is signed as given: one from long ago makes receivers refuse it."""
    secret = generate_secret()
    message_id = str(uuid.uuid4())
    headers = signed_headers([secret], message_id, int(time.time()) - 3600, BODY)

    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY, headers)
