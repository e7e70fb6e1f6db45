"""A follow-up read as a plain row, for reads that show it without loading it into the ORM."""

from collections.abc import Mapping
from typing import Any

from app.models import FollowUp


class FollowUpRow:
    """A follow-up's columns by attribute, as the model has them, and the model's derived ones.

    Only for showing: nothing written to it is saved.
    """

    __slots__ = ("_row",)

    def __init__(self, row: Mapping[str, Any]) -> None:
        self._row = row

    def __getattr__(self, name: str) -> Any:
        try:
            return self._row[name]
        except KeyError:
            raise AttributeError(name) from None

    # The model's own properties, which read only columns.
    recurrence = FollowUp.recurrence
    start_date = FollowUp.start_date
    end_date = FollowUp.end_date


# What the views show: a loaded follow-up, or one read as a row.
ShownFollowUp = FollowUp | FollowUpRow
