"""The one cap on time windows a read may ask for, and its 422."""

from datetime import datetime, timedelta

from app.kit.errors import ValidationFailed

MAX_WINDOW = timedelta(days=366)


def check_window(
    start: datetime, end: datetime, *, start_name: str = "start", end_name: str = "end"
) -> None:
    """422 unless `end` is after `start` and at most 366 days later."""
    if not start < end <= start + MAX_WINDOW:
        raise ValidationFailed.at(
            ("query", end_name),
            f"{end_name} must be after {start_name} and at most 366 days later",
            msg="invalid window",
            type="window",
        )
