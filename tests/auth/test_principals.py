"""The principal a token names: its admin scope, and its subject read as an associate id."""

import uuid

import pytest

from app.auth.principals import ADMIN_SCOPE, Actor, Principal

TENANT = uuid.uuid4()


@pytest.mark.parametrize(
    ("scopes", "admin"),
    [(frozenset({ADMIN_SCOPE}), True), (frozenset({"admin", "read"}), True), (frozenset(), False)],
    ids=["admin", "admin among others", "none"],
)
def test_admin_is_holding_the_admin_scope(scopes: frozenset[str], admin: bool) -> None:
    assert ADMIN_SCOPE == "admin"
    assert Principal(TENANT, "provisioning", scopes).is_admin is admin


def test_a_uuid_subject_is_an_associate_id() -> None:
    associate = uuid.uuid4()

    assert Principal(TENANT, str(associate), frozenset()).associate_id == associate


@pytest.mark.parametrize(
    "subject", ["provisioning", "", "1234", "00000000-0000-7000-8000-00000000000g"]
)
def test_a_free_form_subject_is_no_associate(subject: str) -> None:
    assert Principal(TENANT, subject, frozenset({ADMIN_SCOPE})).associate_id is None


def test_an_actor_is_named_by_its_associate_id() -> None:
    associate = uuid.uuid4()

    assert Actor(TENANT, associate).name == str(associate)
