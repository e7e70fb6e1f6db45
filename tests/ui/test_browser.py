"""The group view in a real browser (Debian's chromium, driven by Playwright) on a live server.

Against `convene serve` with the demo tenant: the page opens from the link `convene demo`
prints, shows a row per diary with the blocks the API reports (titles where Ada may see them,
a double booking marked), highlights the first free hour, books it, and the booking shows in
the rows and in Bo's inbox. Screenshots at 1280 and 390 px are kept beside the test's files
(and copied to $CONVENE_TEST_ARTIFACTS when CI sets it).
"""

import json
import os
import re
import shutil
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import ConsoleMessage, Page, Request, expect, sync_playwright

from tests.fixtures.factories import bearer
from tests.fixtures.servers import convene_env, run_cli, serving

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CPH = ZoneInfo("Europe/Copenhagen")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="no chromium executable: install Debian's package (apt-get install chromium)",
    ),
]


def _demo(data_dir: Path, base: str) -> tuple[dict[str, str], str]:
    """The exports `convene demo` prints, and the group view link it prints."""
    result = run_cli("--data-dir", str(data_dir), "demo", "--url", base, env=convene_env())
    assert result.returncode == 0, result.stderr
    exports = dict(re.findall(r"^export (\w+)=(\S+)", result.stdout, re.M))
    link = re.search(r"^# group view as Ada Jensen: (\S+)$", result.stdout, re.M)
    assert link is not None, result.stdout
    return exports, link.group(1)


def _ids(api: httpx.Client, path: str, names: list[str]) -> list[str]:
    items = {item["name"]: item["id"] for item in api.get(path).json()["items"]}
    return [items[name] for name in names]


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _keep(page: Page, directory: Path, name: str) -> Path:
    path = directory / name
    page.screenshot(path=str(path), full_page=True)
    artifacts = os.environ.get("CONVENE_TEST_ARTIFACTS")
    if artifacts:
        Path(artifacts).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(artifacts) / name)
    return path


def test_group_view_shows_the_week_and_books_a_free_slot(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with serving(data_dir, convene_env()) as base:
        exports, link = _demo(data_dir, base)
        assert link.startswith(f"{base}/ui/#token=")
        with (
            httpx.Client(base_url=base, headers=bearer(exports["ADA"]), timeout=10) as ada,
            httpx.Client(base_url=base, headers=bearer(exports["BO"]), timeout=10) as bo,
        ):
            _check_the_page(tmp_path, link, exports, ada, bo)


def _check_the_page(
    tmp_path: Path, link: str, exports: dict[str, str], ada: httpx.Client, bo: httpx.Client
) -> None:
    people = [exports["ADA_ID"], exports["BO_ID"], exports["CLEO_ID"]]
    rooms = _ids(ada, "/v1/resources", ["Fjord room", "Boardroom"])
    today = date.today()
    monday = today + timedelta(days=7 - today.weekday())  # the demo's week
    # Bo books the Fjord room over Ada's Monday planning: a double booking to be marked.
    clash = bo.post(
        "/v1/follow-ups",
        json={
            "title": "Bo's private clash",
            "start_at": datetime.combine(monday, time(9, 30), CPH).isoformat(),
            "end_at": datetime.combine(monday, time(10, 30), CPH).isoformat(),
            "participants": [{"resource_id": rooms[0]}],
        },
    )
    assert clash.status_code == 201, clash.text
    week = {
        "start": datetime.combine(monday, time(0), CPH).isoformat(),
        "end": datetime.combine(monday + timedelta(days=5), time(0), CPH).isoformat(),
    }
    calendars = {"associate_ids": people, "resource_ids": rooms}
    expected = ada.get("/v1/availability", params={**calendars, **week}).json()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        context = browser.new_context(
            viewport={"width": 1280, "height": 900},
            locale="en-GB",
            timezone_id="Europe/Copenhagen",
        )
        # A pasted token that the API refuses is said so, next to where it was pasted.
        refused = context.new_page()
        refused.goto(link.split("#", 1)[0])
        refused.get_by_label("Token").fill("not-a-token")
        refused.keyboard.press("Enter")
        expect(refused.get_by_role("alert")).to_contain_text("The token was refused")
        expect(refused.get_by_label("Token")).to_be_visible()
        refused.close()

        page = context.new_page()
        errors: list[str] = []  # a CSP violation is reported as a console error
        page.on("console", lambda m: _note_error(errors, m))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on(
            "response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None
        )
        posts: list[Request] = []
        page.on("request", lambda r: posts.append(r) if r.method == "POST" else None)

        page.goto(link)
        expect(page.get_by_text("Signed in as Ada Jensen")).to_be_visible()
        assert "token" not in page.url, "the token stayed in the address bar"
        for name in ("Bo Holm", "Cleo Park", "Fjord room", "Boardroom"):
            page.get_by_label(name).check()
        page.get_by_label("Date").fill(monday.isoformat())
        expect(page.get_by_role("status")).to_have_text(f"5 diaries, week of {monday.isoformat()}.")

        # One row per diary, and in each the blocks the API reports, titled where it may.
        rows = page.locator(".row[data-kind]")
        expect(rows).to_have_count(5)
        for calendar in expected["calendars"]:
            row = page.locator(f'.row[data-id="{calendar["id"]}"]')
            blocks = row.locator(".block")
            expect(blocks).to_have_count(len(calendar["busy"]))
            shown = sorted(
                (b.get_attribute("data-status"), b.get_attribute("data-follow-up") or "")
                for b in blocks.all()
            )
            wanted = sorted((b["status"], b["follow_up_id"] or "") for b in calendar["busy"])
            assert shown == wanted, calendar["id"]
            for block in calendar["busy"]:
                if block["follow_up_id"]:
                    title = ada.get(f"/v1/follow-ups/{block['follow_up_id']}").json()["title"]
                    found = row.locator(f'.block[data-follow-up="{block["follow_up_id"]}"]')
                    expect(found.locator(".label")).to_have_text(title)
        ada_row = page.locator(f'.row[data-id="{exports["ADA_ID"]}"]')
        expect(ada_row.locator(".block.busy", has_text="Weekly planning")).to_have_count(1)
        expect(ada_row.locator(".block.tentative", has_text="Sync with Copenhagen")).to_have_count(
            1
        )
        fjord = page.locator(f'.row[data-id="{rooms[0]}"]')
        expect(fjord.locator(".block.conflict .label")).to_have_text(["Weekly planning", "Busy"])

        # A free slot clicked with the mouse opens the booking at the quarter hour there.
        free = page.locator(".row.free .slot").first
        free.click(position={"x": 2, "y": 5})
        dialog = page.get_by_role("dialog", name="Book a follow-up")
        expect(dialog).to_be_visible()
        start = datetime.fromisoformat(page.get_by_label("Start").input_value())
        assert start.minute % 15 == 0
        page.keyboard.press("Escape")
        expect(dialog).to_be_hidden()

        # First available, by keyboard: the slot the API names is highlighted and focused.
        page.locator("#duration").select_option("PT1H")
        page.get_by_role("button", name="First available", exact=True).focus()
        page.keyboard.press("Enter")
        first = page.locator("[data-first]")
        expect(first).to_be_focused()
        slots = ada.get(
            "/v1/availability/first-free",
            params={
                **calendars,
                "duration": "PT1H",
                "after": week["start"],
                "before": week["end"],
            },
        ).json()["slots"]
        assert _instant(first.get_attribute("data-first") or "") == _instant(slots[0]["start_at"])

        # Book it: the follow-up invites everyone selected, under an Idempotency-Key.
        page.keyboard.press("Enter")
        expect(dialog).to_be_visible()
        expect(page.get_by_label("Title")).to_be_focused()
        page.keyboard.type("Roadmap <b>Q1</b>")
        page.keyboard.press("Enter")
        expect(page.get_by_role("status")).to_contain_text("Booked “Roadmap <b>Q1</b>”")
        booking = next(r for r in posts if r.url.endswith("/v1/follow-ups"))
        assert re.fullmatch(r"[0-9a-f-]{36}", booking.headers["idempotency-key"])
        body: dict[str, Any] = json.loads(booking.post_data or "")
        assert sorted(p.get("associate_id") or p["resource_id"] for p in body["participants"]) == (
            sorted([exports["BO_ID"], exports["CLEO_ID"], *rooms])
        )
        assert _instant(body["start_at"]) == _instant(slots[0]["start_at"])
        assert _instant(body["end_at"]) - _instant(body["start_at"]) == timedelta(hours=1)
        for calendar_id in (*people, *rooms):
            row = page.locator(f'.row[data-id="{calendar_id}"]')
            # The title is text, never markup.
            expect(row.locator(".block .label", has_text="Roadmap <b>Q1</b>")).to_have_count(1)
        assert page.locator(".block b").count() == 0

        inbox = bo.get("/v1/invitations", params={"status": "not_read"}).json()["items"]
        invited = [i for i in inbox if i["follow_up"]["title"] == "Roadmap <b>Q1</b>"]
        assert len(invited) == 1
        assert _instant(invited[0]["follow_up"]["start_at"]) == _instant(slots[0]["start_at"])

        kept = [_keep(page, tmp_path, "group-view-week-1280.png")]

        # One day at a time, the titles are read whole; "Later" skips to the next day.
        page.get_by_label("Show").select_option("day")
        expect(page.get_by_role("status")).to_have_text(f"5 diaries, {monday.isoformat()}.")
        titles = ada_row.locator(".block")
        expect(titles.locator(".label")).to_have_text(["Weekly planning", "Roadmap <b>Q1</b>"])
        for block in titles.all():
            fits = "e => e.scrollWidth <= e.clientWidth && e.scrollHeight <= e.clientHeight"
            assert block.evaluate(fits), block.text_content()
        kept.append(_keep(page, tmp_path, "group-view-day-1280.png"))
        page.set_viewport_size({"width": 390, "height": 844})
        # Narrow: the page itself does not scroll sideways; the grid scrolls in its box.
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        expect(page.get_by_role("button", name="First available", exact=True)).to_be_visible()
        kept.append(_keep(page, tmp_path, "group-view-day-390.png"))
        page.get_by_role("button", name="Later").click()
        tuesday = (monday + timedelta(days=1)).isoformat()
        expect(page.get_by_role("status")).to_have_text(f"5 diaries, {tuesday}.")
        page.get_by_label("Show").select_option("week")
        kept.append(_keep(page, tmp_path, "group-view-week-390.png"))
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        browser.close()
    for path in kept:
        assert path.stat().st_size > 10_000, path
    assert errors == []
    print("screenshots:", *kept)


def _note_error(errors: list[str], message: ConsoleMessage) -> None:
    if message.type == "error":
        errors.append(message.text)
