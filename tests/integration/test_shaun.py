"""Shaun against a local copy of Google Sheets, through the whole path, asserting on the sheet's own data."""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from zigral.client import Client
from zigral.config import load_settings
from zigral.messages import Command, Result
from zigral.state import TaskStore
from zigral.testing.server import serve

from .conftest import Stack, booted_stack, services_available
from .sheets_site import SheetsSite

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def sheets() -> Iterator[tuple[SheetsSite, str]]:
    site = SheetsSite()
    with serve() as server:
        site.install(server)
        yield site, server.base


@pytest.fixture(scope="module")
def shaun(sheets: tuple[SheetsSite, str]) -> Iterator[Stack]:
    _, base = sheets
    services_available(load_settings())
    with booted_stack(
        runtime={"allow_private": [base.removeprefix("http://")], "heartbeat_interval": 1.0},
        shaun={"base_url": base, "keystroke_delay_ms": 0, "verify_timeout": 10},
    ) as stack:
        # The operator signs in to Google once in the shared browser; the profile keeps the cookie.
        signed_in = run(stack, "navigate", url=f"{base}/ServiceLogin?continue=/spreadsheets/d/budget1/edit")
        assert signed_in.status == "succeeded", signed_in
        yield stack


def run(stack: Stack, action: str, wait: float = 120, **params: Any) -> Result:
    with Client(stack.settings) as client:
        return client.call(Command(agent="shaun", action=action, params=params), timeout=wait)


def cells(
    site: SheetsSite, sheet_id: str, tab: str, top: int, left: int, rows: int, cols: int
) -> list[list[str]]:
    t = site.spreadsheets[sheet_id].tab(name=tab)
    assert t is not None
    return [[t.display(r, c) for c in range(left, left + cols)] for r in range(top, top + rows)]


def test_open_sheet_reports_title_tabs_and_edit_rights(shaun: Stack, sheets: tuple[SheetsSite, str]) -> None:
    _, base = sheets
    result = run(shaun, "open_sheet", spreadsheet=f"{base}/spreadsheets/d/budget1/edit#gid=0")
    assert result.status == "succeeded", result
    assert result.result["title"] == "Team budget"
    assert result.result["tabs"] == [{"name": "Sheet1", "gid": 0}, {"name": "Expenses", "gid": 1842}]
    assert result.result["can_edit"] is True
    locked = run(shaun, "open_sheet", spreadsheet="readonly1")
    assert locked.result["can_edit"] is False


def test_write_then_read_round_trips_through_the_ui_and_the_csv_export(
    shaun: Stack, sheets: tuple[SheetsSite, str]
) -> None:
    site, _ = sheets
    values = [["Apples", 3, 2.5], ["Pears", 10, True]]
    written = run(shaun, "write_range", spreadsheet="budget1", range="Sheet1!B5", values=values)
    assert written.status == "succeeded", written
    assert written.result == {"range": "Sheet1!B5:D6", "cells": 6, "verified": True, "method": "paste"}
    assert cells(site, "budget1", "Sheet1", 4, 1, 2, 3) == [["Apples", "3", "2.5"], ["Pears", "10", "TRUE"]]
    read = run(shaun, "read_range", spreadsheet="budget1", range="Sheet1!A1:D6")
    assert read.result["rows"][0] == ["Name", "Amount", "", ""]
    assert read.result["rows"][4:] == [["", "Apples", "3", "2.5"], ["", "Pears", "10", "TRUE"]]


def test_formula_looking_strings_are_stored_literally(shaun: Stack, sheets: tuple[SheetsSite, str]) -> None:
    site, _ = sheets
    tricky = ["=1+2", "+5", "-3", "@home", "007", "2024-01-05"]
    result = run(shaun, "write_range", spreadsheet="budget1", range="Expenses!A10", values=[tricky])
    assert result.status == "succeeded", result
    assert cells(site, "budget1", "Expenses", 9, 0, 1, 6) == [tricky]
    formula = run(
        shaun, "write_range", spreadsheet="budget1", range="Expenses!A11", values=[["=2*3"]], formulas=True
    )
    assert formula.status == "succeeded", formula
    assert cells(site, "budget1", "Expenses", 10, 0, 1, 1) == [["6"]]


def test_enter_after_a_run_of_tabs_returns_to_the_first_column(
    shaun: Stack, sheets: tuple[SheetsSite, str]
) -> None:
    site, _ = sheets
    block = [[f"r{r}c{c}" for c in range(10)] for r in range(10)]
    result = run(shaun, "write_range", spreadsheet="budget1", range="Sheet1!C12", values=block)
    assert result.status == "succeeded", result
    assert cells(site, "budget1", "Sheet1", 11, 2, 10, 10) == block


def test_an_append_redelivered_mid_write_is_not_duplicated(
    shaun: Stack, sheets: tuple[SheetsSite, str]
) -> None:
    site, _ = sheets
    tab = site.spreadsheets["budget1"].tab(name="Expenses")
    assert tab is not None
    rows = [["Coffee", 12], ["Paper", 4], ["Ink", 30]]
    task_id = f"append-{uuid.uuid4().hex[:8]}"
    before = site.writes
    with Client(shaun.settings) as client:
        client.submit(
            Command(
                id=task_id,
                agent="shaun",
                action="append_rows",
                params={"spreadsheet": "budget1", "sheet": "Expenses", "rows": rows},
            )
        )
    deadline = time.monotonic() + 60
    while site.writes == before:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    os.kill(shaun.pid("agents:shaun"), signal.SIGKILL)
    store = TaskStore.from_settings(shaun.settings)
    while (store.get(task_id) or {}).get("status") != "succeeded":
        assert time.monotonic() < deadline + 60, store.get(task_id)
        time.sleep(0.2)
    record = store.get(task_id)
    assert record is not None and record["attempts"] == 2
    texts = [tab.display(r, 0) for r in range(40)]
    assert texts.count("Coffee") == 1 and texts.count("Paper") == 1 and texts.count("Ink") == 1
    first = texts.index("Coffee")
    assert cells(site, "budget1", "Expenses", first, 0, 3, 2) == [
        ["Coffee", "12"],
        ["Paper", "4"],
        ["Ink", "30"],
    ]


def test_a_second_append_goes_below_the_first(shaun: Stack, sheets: tuple[SheetsSite, str]) -> None:
    site, _ = sheets
    one = run(shaun, "append_rows", spreadsheet="budget1", sheet="Sheet1", rows=[["Water", 40]])
    two = run(shaun, "append_rows", spreadsheet="budget1", sheet="Sheet1", rows=[["Power", 90]])
    assert one.status == two.status == "succeeded", (one, two)
    start_one = int(one.result["range"].split("!A")[1].split(":")[0])
    start_two = int(two.result["range"].split("!A")[1].split(":")[0])
    assert start_two == start_one + 1
    assert cells(site, "budget1", "Sheet1", start_one - 1, 0, 2, 2) == [["Water", "40"], ["Power", "90"]]


def test_find_and_clear_range(shaun: Stack, sheets: tuple[SheetsSite, str]) -> None:
    site, _ = sheets
    found = run(shaun, "find", spreadsheet="budget1", text="rent")
    assert found.result["matches"] == [{"sheet": "Sheet1", "cell": "A2", "value": "Rent"}]
    run(shaun, "write_range", spreadsheet="budget1", range="Expenses!H1", values=[["x", "y"], ["z", "w"]])
    cleared = run(shaun, "clear_range", spreadsheet="budget1", range="Expenses!H1:I2")
    assert cleared.status == "succeeded", cleared
    assert cells(site, "budget1", "Expenses", 0, 7, 2, 2) == [["", ""], ["", ""]]


def test_view_only_sheets_missing_tabs_and_bad_ranges_fail_clearly(
    shaun: Stack, sheets: tuple[SheetsSite, str]
) -> None:
    site, _ = sheets
    writes = site.writes
    locked = run(shaun, "write_range", spreadsheet="readonly1", range="Data!A1", values=[["nope"]])
    assert locked.status == "failed" and "view-only" in (locked.error or "")
    missing = run(shaun, "read_range", spreadsheet="budget1", range="Nope!A1:B2")
    assert missing.status == "failed" and "no tab named 'Nope'; tabs: Sheet1, Expenses" in (
        missing.error or ""
    )
    bad = run(shaun, "read_range", spreadsheet="budget1", range="Sheet1!A0:ZZZZ9")
    assert bad.status == "rejected" and "invalid A1 range" in (bad.error or "")
    assert site.writes == writes
    assert site.spreadsheets["readonly1"].tabs[0].display(0, 0) == "Year"


def test_a_view_only_book_fails_at_once_as_view_only_with_a_screenshot(
    shaun: Stack, sheets: tuple[SheetsSite, str]
) -> None:
    site, _ = sheets
    writes = site.writes
    started = time.monotonic()
    locked = run(shaun, "write_range", spreadsheet="readonly1", range="Data!B2", values=[["x", "y"]])
    assert time.monotonic() - started < 5
    assert locked.status == "failed" and (locked.error or "").startswith("view_only:"), locked
    assert any(path.endswith(".png") for path in locked.captures), locked.captures
    assert site.writes == writes and site.spreadsheets["readonly1"].tabs[0].display(1, 1) == ""


def test_a_missing_book_fails_at_once_as_not_found_with_a_screenshot(shaun: Stack) -> None:
    started = time.monotonic()
    gone = run(shaun, "write_range", spreadsheet="gone1", range="Sheet1!A1", values=[["x"]])
    assert time.monotonic() - started < 5
    assert gone.status == "failed" and (gone.error or "").startswith("not_found:"), gone
    assert any(path.endswith(".png") for path in gone.captures), gone.captures


def test_a_fifty_by_ten_block_is_pasted_and_verified(shaun: Stack, sheets: tuple[SheetsSite, str]) -> None:
    site, _ = sheets
    block = [[f"r{r}c{c}" for c in range(10)] for r in range(50)]
    block[3][4] = "two\nlines"
    written = run(shaun, "write_range", spreadsheet="bulk1", range="Data!B2", values=block)
    assert written.status == "succeeded", written
    assert written.result == {"range": "Data!B2:K51", "cells": 500, "verified": True, "method": "paste"}
    assert cells(site, "bulk1", "Data", 1, 1, 50, 10) == block
    assert cells(site, "bulk1", "Data", 51, 0, 1, 12) == [[""] * 12]  # the newline stayed in its cell
