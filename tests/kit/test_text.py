"""The text rules: which characters single-line and multi-line fields refuse, checked and stated."""

import re
import sys
import unicodedata
from typing import Annotated

import jsonschema_rs
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from app.kit.schemas import multi_line, single_line
from app.kit.text import FORMATS, MULTI_LINE, SINGLE_LINE, TextRule

# Characters the rules are about, mixed into generated text so that most examples hold some.
INTERESTING = [
    "\t", "\n", "\r", "\x00", "\x1b", "\x7f", "\x85", "\xa0", "\xad", "\u061c", "\u180e",
    "\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\u2028", "\u2029", "\u202a", "\u202e",
    "\u2060", "\u2066", "\u2069", "\u206a", "\ufeff", "\U000e0001", "\U000e0067", "\U0001f469",
    "\u3000", " ", "a", "\u00e6", "\u0645",
]  # fmt: skip
texts = st.text(st.sampled_from(INTERESTING) | st.characters(codec="utf-8"), max_size=30)

# Unicode 15 made U+13439..U+1343F format characters; this Python may know an older Unicode.
NEWER_FORMATS = {point for low, high in FORMATS for point in range(low, high + 1)}


def _category(character: str) -> str:
    category = unicodedata.category(character)
    return "Cf" if category == "Cn" and ord(character) in NEWER_FORMATS else category


def single_line_allows(value: str) -> bool:
    """The rule as the issue states it, from the Unicode categories."""
    categories = {_category(c) for c in value}
    return not categories & {"Cc", "Cf", "Zl", "Zp"} and bool(value.strip())


def multi_line_allows(value: str) -> bool:
    for character in value:
        point = ord(character)
        if character in "\t\n":
            continue
        if _category(character) in {"Cc", "Zl", "Zp"}:
            return False
        if 0x202A <= point <= 0x202E or 0x2066 <= point <= 0x2069:
            return False
    return True


def accepts(rule: TextRule, value: str) -> bool:
    try:
        rule.check(value)
    except ValueError:
        return False
    return True


@settings(max_examples=500)
@given(texts)
@example("\u202eevil")
@example("  ")
@example("")
def test_single_line_refuses_exactly_cc_cf_zl_zp(value: str) -> None:
    assert accepts(SINGLE_LINE, value) is single_line_allows(value)


@settings(max_examples=500)
@given(texts)
@example("a\r\nb")
@example("\U0001f469\u200d\U0001f4bb\nnext\tline")
def test_multi_line_keeps_tab_line_feed_and_joiners_only(value: str) -> None:
    assert accepts(MULTI_LINE, value) is multi_line_allows(value)


def json_schema_search(pattern: str, value: str) -> bool:
    """Whether a JSON Schema (ECMA-262) pattern matches: a search, `$` only at the very end."""
    return re.search(pattern.replace("$", r"\Z"), value) is not None


@settings(max_examples=500)
@given(texts)
@example("Budget\n")
@example("\u2029")
def test_the_documented_pattern_means_what_is_checked(value: str) -> None:
    # The OpenAPI document's pattern, read as JSON Schema does, agrees with the check.
    for rule in (SINGLE_LINE, MULTI_LINE):
        assert json_schema_search(rule.pattern, value) is accepts(rule, value), rule.name


def test_the_format_table_is_this_pythons_cf_and_newer() -> None:
    known = {p for p in range(sys.maxunicode + 1) if unicodedata.category(chr(p)) == "Cf"}
    assert known <= NEWER_FORMATS
    assert {unicodedata.category(chr(p)) for p in NEWER_FORMATS - known} <= {"Cn"}


def _error(value: str, *, multi: bool) -> dict[str, object]:
    class One(BaseModel):
        text: Annotated[str, multi_line(50) if multi else single_line(50)]

    with pytest.raises(ValidationError) as raised:
        One(text=value)
    (error,) = raised.value.errors()
    return dict(error)


@pytest.mark.parametrize(
    ("value", "multi", "message"),
    [
        (
            "Budget\u202e7202",
            False,
            "single-line text may not contain U+202E (RIGHT-TO-LEFT OVERRIDE, Cf) at position 6",
        ),
        ("a\u200bb", False, "single-line text may not contain U+200B (ZERO WIDTH SPACE, Cf)"),
        ("a\u2029b", False, "single-line text may not contain U+2029 (PARAGRAPH SEPARATOR, Zp)"),
        ("x\x85", False, "single-line text may not contain U+0085 (CONTROL, Cc)"),
        ("a\r\nb", True, "multi-line text may not contain U+000D (CARRIAGE RETURN, Cc)"),
        ("\u2067x", True, "multi-line text may not contain U+2067 (RIGHT-TO-LEFT ISOLATE, Cf)"),
    ],
)
def test_a_refused_character_is_named(value: str, multi: bool, message: str) -> None:
    error = _error(value, multi=multi)

    assert error["type"] == "text_character"
    assert str(error["msg"]).startswith(message)


def test_blank_single_line_text_says_so() -> None:
    error = _error(" \u3000 ", multi=False)

    assert (error["type"], error["msg"]) == ("text_blank", "must contain more than spaces")


@pytest.mark.parametrize("rule", [SINGLE_LINE, MULTI_LINE], ids=lambda rule: rule.name)
def test_the_documented_pattern_works_in_a_rust_validator(rule: TextRule) -> None:
    # Schema tools other than Python's re read the pattern too (jsonschema-rs here, as
    # schemathesis does): it must compile there and mean the same.
    validator = jsonschema_rs.validator_for({"type": "string", "pattern": rule.pattern})

    for value in ["Budget 2027", "a\u202eb", "x\x85", "a\u2028b", "a\nb\tc", "\U0001f469\u200d"]:
        assert validator.is_valid(value) is accepts(rule, value), repr(value)
