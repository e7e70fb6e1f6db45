"""Request and response bodies of calendar feeds."""

from typing import Annotated

from pydantic import Field

from app.kit.schemas import JSON_INTEGER, InputModel, Name, Stored

MAX_WINDOW_DAYS = 366

PastDays = Annotated[
    int,
    Field(ge=0, le=MAX_WINDOW_DAYS, description="Days back the feed shows"),
    JSON_INTEGER,
]
FutureDays = Annotated[
    int,
    Field(ge=1, le=MAX_WINDOW_DAYS, description="Days ahead the feed shows"),
    JSON_INTEGER,
]


class FeedCreate(InputModel):
    name: Name | None = Field(
        default=None, description="The calendar's name in the subscriber's app (X-WR-CALNAME)"
    )
    past_days: PastDays = 30
    future_days: FutureDays = 365


class Feed(Stored):
    name: str | None
    past_days: int
    future_days: int


class FeedWithUrl(Feed):
    url: str = Field(
        description="The secret subscription URL (`…/v1/feeds/<token>.ics`): shown only now; "
        "anyone holding it reads the diary until the feed is deleted",
        examples=["https://convene.example.com/v1/feeds/cvf_0193…ics"],
    )
