"""The value-list CHECKs, read from the catalog: one array constant each, as the models say."""

import re

import pytest
from sqlalchemy import CheckConstraint, text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.base import any_of
from app.models import Base

# Every CHECK of the public schema, as PostgreSQL shows it.
CHECKS = text("""
SELECT k.conname AS name, pg_get_constraintdef(k.oid) AS definition
FROM pg_constraint k JOIN pg_class t ON t.oid = k.conrelid
WHERE k.contype = 'c' AND t.relnamespace = 'public'::regnamespace
""")
_ANY = re.compile(r"(\w+)::text = ANY \('\{(.*)\}'::text\[\]\)")


def _model_value_lists() -> dict[str, set[str]]:
    """The models' value-list CHECKs: constraint name to the values it admits."""
    lists = {}
    for table in Base.metadata.tables.values():
        for constraint in table.constraints:
            if isinstance(constraint, CheckConstraint):
                found = _ANY.fullmatch(str(constraint.sqltext))
                if found is not None:
                    lists[str(constraint.name)] = set(found.group(2).split(","))
    return lists


async def test_no_check_is_an_array_of_casts(connection: AsyncConnection) -> None:
    # An `IN (...)` list is stored as ARRAY[...] of casts, re-read by every write (see any_of).
    rows = (await connection.execute(CHECKS)).all()
    assert rows
    assert [row.name for row in rows if "ARRAY[" in row.definition] == []


async def test_the_database_admits_the_values_the_models_list(
    connection: AsyncConnection,
) -> None:
    stored = {
        row.name: set(re.findall(r"[{,]([\w.]+)(?=[,}])", row.definition))
        for row in (await connection.execute(CHECKS)).all()
        if "ANY ('{" in row.definition
    }
    models = _model_value_lists()
    assert len(models) >= 16
    assert stored == models


def test_any_of_is_one_constant_and_refuses_what_it_cannot_quote() -> None:
    assert any_of("kind", ["room", "equipment"]) == "kind::text = ANY ('{room,equipment}'::text[])"
    with pytest.raises(ValueError, match="not a plain array element"):
        any_of("kind", ["a,b"])
