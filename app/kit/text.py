"""Which characters text fields may hold: the single-line and the multi-line rule, in one place.

A rule is a set of refused code points. It is checked by a compiled regular expression (one C
scan) and stated in the OpenAPI document as a `pattern` that means the same; a refused
character gets a 422 naming it. Lone surrogates (Cs) never get this far: the string
validation before these checks refuses them, and a pattern naming them would not compile in
Rust- or ECMA-based validators.
"""

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from annotated_types import GroupedMetadata, MaxLen, MinLen
from pydantic import AfterValidator, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

Ranges = tuple[tuple[int, int], ...]

# Control characters, Unicode category Cc (C0, DEL and C1).
CONTROLS: Ranges = ((0x00, 0x1F), (0x7F, 0x9F))
# Format characters, category Cf, as of Unicode 15.1 (written out, so the rule and the
# document do not change with the Python that runs them; 3.11 knows Unicode 14 only).
FORMATS: Ranges = (
    (0x00AD, 0x00AD),  # soft hyphen
    (0x0600, 0x0605),
    (0x061C, 0x061C),  # Arabic letter mark
    (0x06DD, 0x06DD),
    (0x070F, 0x070F),
    (0x0890, 0x0891),
    (0x08E2, 0x08E2),
    (0x180E, 0x180E),
    (0x200B, 0x200F),  # zero width space, ZWNJ, ZWJ, LRM, RLM
    (0x202A, 0x202E),  # bidi embeddings and overrides
    (0x2060, 0x2064),  # word joiner, invisible operators
    (0x2066, 0x206F),  # bidi isolates, deprecated format characters
    (0xFEFF, 0xFEFF),  # byte order mark
    (0xFFF9, 0xFFFB),
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x1343F),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0001, 0xE0001),
    (0xE0020, 0xE007F),  # tag characters
)
# Line and paragraph separators, categories Zl and Zp.
SEPARATORS: Ranges = ((0x2028, 0x2029),)
# The bidi controls that reorder what follows them: embeddings, overrides and isolates.
BIDI_CONTROLS: Ranges = ((0x202A, 0x202E), (0x2066, 0x2069))
# What multi-line text keeps of the controls: tab and line feed.
TAB, LINE_FEED = 0x09, 0x0A


def _without(ranges: Ranges, *kept: int) -> Ranges:
    """The ranges minus the code points `kept`."""
    out: list[tuple[int, int]] = []
    for low, high in ranges:
        start = low
        for point in sorted(k for k in kept if low <= k <= high):
            if start < point:
                out.append((start, point - 1))
            start = point + 1
        if start <= high:
            out.append((start, high))
    return tuple(out)


def _escaped(point: int) -> str:
    """A code point as a regex escape Python, ECMA-262 and Rust all read the same way."""
    return f"\\u{point:04x}" if point <= 0xFFFF else chr(point)


def _class(ranges: Ranges) -> str:
    """The body of a character class of these ranges."""
    return "".join(
        _escaped(low) if low == high else f"{_escaped(low)}-{_escaped(high)}"
        for low, high in sorted(ranges)
    )


@dataclass(frozen=True)
class TextRule:
    """A set of refused characters, with its name and pattern for errors and the document."""

    name: str
    refused: Ranges
    non_blank: bool
    kept: str = ""  # controls the rule keeps (tab, line feed): printable for its fast path

    @property
    def refused_class(self) -> str:
        """The refused characters as the body of a regex character class."""
        return _class(self.refused)

    @property
    def pattern(self) -> str:
        """The rule as a JSON Schema `pattern` (astral characters appear as themselves)."""
        allowed = f"[^{self.refused_class}]"
        return f"^(?!\\s*$){allowed}*$" if self.non_blank else f"^{allowed}*$"

    def check(self, value: str) -> str:
        """The value if it holds no refused character (and, if non-blank, not only spaces)."""
        self.check_characters(value)
        if self.non_blank and (not value or value.isspace()):
            raise PydanticCustomError("text_blank", "must contain more than spaces")
        return value

    def check_characters(self, value: object) -> object:
        """The value if it is no string or holds no refused character: before a shape's pattern."""
        if not isinstance(value, str) or self._printable(value):
            return value
        found = _refused_search(self)(value)
        if found is not None:
            raise PydanticCustomError(
                "text_character",
                "{name} may not contain {character} at position {position}",
                {
                    "name": self.name,
                    "character": describe(found.group()),
                    "position": found.start(),
                },
            )
        return value

    def _printable(self, value: str) -> bool:
        # The common case, decided in C: printable text holds no Cc, Cf, Zl, Zp or Cs at all
        # (nor Co, Cn or spaces but " ", which the rules allow: those go on to the search).
        for kept in self.kept:
            value = value.replace(kept, " ")
        return value.isprintable()


_SEARCHES: dict[Ranges, Any] = {}


def _refused_search(rule: TextRule) -> Any:
    """The compiled search for the rule's refused characters, built once per rule."""
    search = _SEARCHES.get(rule.refused)
    if search is None:
        search = _SEARCHES[rule.refused] = re.compile(f"[{rule.refused_class}]").search
    return search


def describe(character: str) -> str:
    """`U+202E (RIGHT-TO-LEFT OVERRIDE, Cf)`: a refused character as an error names it."""
    point = ord(character)
    name = unicodedata.name(character, "") or _NAMELESS.get(point, "CONTROL")
    return f"U+{point:04X} ({name}, {unicodedata.category(character)})"


_NAMELESS = {0x09: "TAB", 0x0A: "LINE FEED", 0x0D: "CARRIAGE RETURN", 0x00: "NUL"}

SINGLE_LINE = TextRule("single-line text", (*CONTROLS, *FORMATS, *SEPARATORS), non_blank=True)
# ZWJ, ZWNJ and the other format characters stay: emoji sequences (a family, a flag) and
# Persian or Indic words need them; what reorders text or breaks lines other than \n does not.
MULTI_LINE = TextRule(
    "multi-line text",
    (*_without(CONTROLS, TAB, LINE_FEED), *BIDI_CONTROLS, *SEPARATORS),
    non_blank=False,
    kept="\t\n",
)


@dataclass(frozen=True)
class Documented:
    """Annotated metadata that puts a `pattern` in the JSON schema (checked elsewhere)."""

    pattern: str

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema["pattern"] = self.pattern
        return json_schema


@dataclass(frozen=True)
class Text(GroupedMetadata):
    """Text of `min_length` to `max_length` characters under `rule`; metadata for Annotated."""

    rule: TextRule
    max_length: int
    min_length: int = 0

    def __iter__(self) -> Iterator[object]:
        if self.min_length:
            yield MinLen(self.min_length)
        yield MaxLen(self.max_length)
        yield AfterValidator(self.rule.check)
        yield Documented(self.rule.pattern)
