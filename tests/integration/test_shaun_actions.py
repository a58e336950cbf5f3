"""Shaun's actions run straight in headless Chromium (zigral.testing.harness) against the Sheets fixture and
its quirks: one test for each thing seen going wrong on an independent Sheets-like editor (issue 13).
Every test checks the fixture's server-side data, on every tab of every book, before and after.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser

from zigral.agents.shaun import Shaun
from zigral.config import load_settings
from zigral.testing.harness import ActionRunner, headless_browser
from zigral.testing.server import FixtureServer, serve

from .sheets_site import SheetsSite

pytestmark = pytest.mark.integration

Snapshot = dict[str, dict[str, dict[tuple[int, int], str]]]
Make = Callable[..., tuple[SheetsSite, ActionRunner]]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with headless_browser() as b:
        yield b


@pytest.fixture
def make(browser: Browser) -> Iterator[Make]:
    """A fresh fixture site (with ``quirks``) and a runner with Shaun settings ``overrides``."""
    server = FixtureServer()
    with serve(server), tempfile.TemporaryDirectory() as tmp:
        contexts = []

        def build(site: SheetsSite | None = None, **overrides: Any) -> tuple[SheetsSite, ActionRunner]:
            site = site or SheetsSite()
            site.install(server)
            shaun = {"base_url": server.base, "keystroke_delay_ms": 0, "ui_timeout": 3, **overrides}
            context = browser.new_context()
            contexts.append(context)
            context.add_cookies([{"name": "SID", "value": "signed-in", "url": server.base}])
            runner = ActionRunner(
                Shaun(load_settings(None, shaun=shaun)),
                context.new_page(),
                Path(tmp),
                allow_private=(server.base.removeprefix("http://"),),
            )
            return site, runner

        yield build
        for context in contexts:
            context.close()


def changed(before: Snapshot, after: Snapshot) -> set[tuple[str, str, str]]:
    """Cells whose stored input changed, as (book, tab, A1)."""
    out = set()
    for book, tabs in after.items():
        for tab, raw in tabs.items():
            for r, c in set(raw) | set(before[book][tab]):
                if raw.get((r, c)) != before[book][tab].get((r, c)):
                    out.add((book, tab, f"{chr(65 + c)}{r + 1}"))
    return out


def cells(book: str, tab: str, a1: str) -> set[tuple[str, str, str]]:
    start, _, end = a1.partition(":")
    end = end or start
    return {
        (book, tab, f"{chr(col)}{row}")
        for col in range(ord(start[0]), ord(end[0]) + 1)
        for row in range(int(start[1:]), int(end[1:]) + 1)
    }


def test_tab_gids_come_from_the_url_after_activation_not_from_markup(make: Make) -> None:
    _site, runner = make()
    opened = runner.run("open_sheet", spreadsheet="budget1", sheet="Expenses")
    assert opened.ok, opened
    assert opened.result["tabs"] == [{"name": "Sheet1", "gid": 0}, {"name": "Expenses", "gid": 1842}]
    assert opened.result["sheet"] == "Expenses" and runner.page.url.endswith("#gid=1842")
    assert 'id="sheet-button-' not in runner.page.content()  # nothing but the URL carries the gid


def test_clear_range_never_deletes_outside_when_the_name_box_will_not_select_a_range(make: Make) -> None:
    site, runner = make(SheetsSite(quirks={"range_jump_to_a1"}))
    site.spreadsheets["budget1"].tabs[1].raw.update({(0, 7): "x", (0, 8): "y", (1, 7): "z", (1, 8): "w"})
    before = site.snapshot()
    cleared = runner.run("clear_range", spreadsheet="budget1", range="Expenses!H1:I2")
    assert cleared.ok, cleared
    assert cleared.result == {"range": "Expenses!H1:I2", "cleared": 4, "cells": 4}
    assert changed(before, site.snapshot()) == cells("budget1", "Expenses", "H1:I2")
    assert runner.run("clear_range", spreadsheet="budget1", range="Expenses!H1:I2").result["cleared"] == 0


@pytest.mark.parametrize("paste", [True, False])
def test_a_newline_lands_inside_its_cell_pasted_or_typed(make: Make, paste: bool) -> None:
    site, runner = make(paste=paste)
    before = site.snapshot()
    values = [["one\ntwo", "tab\there" if paste else "plain"], ["x", " edge "]]
    written = runner.run("write_range", spreadsheet="budget1", range="Sheet1!C5", values=values)
    assert written.ok, written
    assert written.result["method"] == ("paste" if paste else "type")
    tab = site.spreadsheets["budget1"].tabs[0]
    assert [[tab.display(r, c) for c in (2, 3)] for r in (4, 5)] == values
    assert changed(before, site.snapshot()) == cells("budget1", "Sheet1", "C5:D6")


def test_a_write_whose_export_fails_types_nothing(make: Make) -> None:
    site, runner = make(SheetsSite(broken_exports={1842}))
    before = site.snapshot()
    failed = runner.run("write_range", spreadsheet="budget1", range="Expenses!A1", values=[["x", "y"]])
    assert failed.status == "failed" and "CSV export of tab 'Expenses' answered 500" in (failed.error or "")
    assert site.snapshot() == before and site.writes == 0


def test_view_only_and_missing_books_fail_at_once_and_can_edit_is_false(make: Make) -> None:
    _site, runner = make()
    started = time.monotonic()
    locked = runner.run("write_range", spreadsheet="readonly1", range="Data!A1", values=[["x"]])
    assert locked.status == "failed" and (locked.error or "").startswith("view_only:"), locked
    assert time.monotonic() - started < 5
    assert runner.run("open_sheet", spreadsheet="readonly1").result["can_edit"] is False
    started = time.monotonic()
    gone = runner.run("read_range", spreadsheet="gone1", range="A1")
    assert gone.status == "failed" and (gone.error or "").startswith("not_found:"), gone
    assert time.monotonic() - started < 5


def test_a_view_only_book_without_its_badge_is_caught_by_the_probe(make: Make) -> None:
    _site, runner = make()
    runner.page.route(  # the badge gone from the markup: only the probe keystroke can tell
        "**/readonly1/edit",
        lambda route: route.fulfill(
            response=(resp := route.fetch()),
            body=resp.text().replace(">View only</div>", "></div>").replace('aria-label="View only"', ""),
        ),
    )
    opened = runner.run("open_sheet", spreadsheet="readonly1")
    assert opened.ok and opened.result["can_edit"] is False, opened
    locked = runner.run("write_range", spreadsheet="readonly1", range="Data!A1", values=[["x"]])
    assert (locked.error or "").startswith("view_only:"), locked


def test_a_long_typed_write_stops_before_the_deadline_naming_exactly_the_cells_it_changed(make: Make) -> None:
    site, runner = make(paste=False, keystroke_delay_ms=5, deadline_reserve=2)
    before = site.snapshot()
    block = [[f"r{r}c{c}" for c in range(10)] for r in range(100)]
    started = time.monotonic()
    stopped = runner.run("write_range", timeout=20, spreadsheet="bulk1", range="Data!A1", values=block)
    # Stopped on its own, well inside the worker's grace past a deadline: the agent is never abandoned.
    assert time.monotonic() - started < 20 + 5
    assert stopped.status == "timed_out", stopped
    assert any(c.endswith(".png") for c in stopped.captures)
    assert "cells changed: " in (stopped.error or ""), stopped
    named = (stopped.error or "").split("cells changed: ")[1]
    tab = site.spreadsheets["bulk1"].tabs[0]
    written = sorted({(r, c) for (r, c) in tab.raw}, key=lambda x: (x[0], x[1]))
    assert (
        written and written == [(r, c) for r in range(written[-1][0] + 1) for c in range(10)][: len(written)]
    )
    last_r, last_c = written[-1]
    full = f"A1:J{last_r}" if last_r else None
    tail = f"A{last_r + 1}" + (f":{chr(65 + last_c)}{last_r + 1}" if last_c else "")
    assert named == ", ".join(p for p in (full, tail) if p) or named == f"A1:J{last_r + 1}"
    assert {k for k in changed(before, site.snapshot())} <= cells("bulk1", "Data", "A1:J100")


def test_an_interrupted_append_is_retried_into_the_same_rows(make: Make) -> None:
    site, runner = make(paste=False, keystroke_delay_ms=5, deadline_reserve=2)
    rows = [[f"n{r}", r] for r in range(250)]
    first = runner.run("append_rows", timeout=15, spreadsheet="bulk1", sheet="Notes", rows=rows)
    assert first.status == "failed" and "append interrupted" in (first.error or ""), first
    # where it appends, and that a timeout from the first key on is retried (the retry repairs the rows)
    assert runner.memo == {"append_row": 1, "resumable": True}
    _, fast = make(site)  # the retry: same task memo, a browser that now pastes
    fast.memo.update(runner.memo)
    second = fast.run("append_rows", spreadsheet="bulk1", sheet="Notes", rows=rows)
    assert second.ok and second.result["range"] == "Notes!A2:B251", second
    notes = site.spreadsheets["bulk1"].tabs[1]
    assert [notes.display(r, 0) for r in range(252)] == ["keep me"] + [f"n{r}" for r in range(250)] + [""]


def test_edge_spaces_read_back_as_written_without_waiting_and_whole_columns_read(make: Make) -> None:
    _site, runner = make(verify_timeout=15)
    started = time.monotonic()
    written = runner.run(
        "write_range", spreadsheet="budget1", range="Sheet1!A3", values=[["  two  ", " one"]]
    )
    assert written.ok, written
    assert time.monotonic() - started < 5
    whole = runner.run("read_range", spreadsheet="budget1", range="Sheet1!A:B")
    assert whole.result["range"] == "Sheet1!A1:B3"
    assert whole.result["rows"][2] == ["\u00a0\u00a0two\u00a0\u00a0", "\u00a0one"]
    rows = runner.run("read_range", spreadsheet="budget1", range="Sheet1!2:9")
    assert rows.result == {"range": "Sheet1!A2:B3", "rows": [["Rent", "1200"], whole.result["rows"][2]]}


def test_a_paste_split_on_every_newline_is_undone_and_typed_instead(make: Make) -> None:
    site, runner = make(SheetsSite(quirks={"naive_paste"}))
    site.spreadsheets["budget1"].tabs[0].raw.update({(5, 1): "below", (4, 3): "right"})
    before = site.snapshot()
    values = [["one\ntwo", "x"], ["y", "z"]]
    written = runner.run("write_range", spreadsheet="budget1", range="Sheet1!B4", values=values)
    assert written.ok and written.result["method"] == "type", written
    tab = site.spreadsheets["budget1"].tabs[0]
    assert [[tab.display(r, c) for c in (1, 2)] for r in (3, 4)] == values
    assert changed(before, site.snapshot()) == cells("budget1", "Sheet1", "B4:C5")


def test_a_block_someone_else_copied_meanwhile_is_never_pasted(make: Make) -> None:
    """The clipboard is the display's: an operator copying in noVNC between Shaun's copy and its paste must
    not have a bigger block of theirs pasted from Shaun's cell (and spread outside the range)."""
    site, runner = make()
    agent = runner.agent
    verify = agent._still_at  # type: ignore[attr-defined]

    def operator_copies(ctx: Any, target: str) -> None:
        verify(ctx, target)
        ctx.page.evaluate("() => navigator.clipboard.writeText('theirs\\tX\\tY\\nZ\\tW\\tV\\nA\\tB\\tC')")

    agent._still_at = operator_copies  # type: ignore[attr-defined]
    before = site.snapshot()
    written = runner.run("write_range", spreadsheet="budget1", range="Sheet1!C5", values=[["a", "b"]])
    assert written.ok and written.result["method"] == "type", written
    assert changed(before, site.snapshot()) == cells("budget1", "Sheet1", "C5:D5")
