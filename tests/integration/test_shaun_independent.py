"""Every Shaun action against an independent Sheets-like editor (tests/sites/sheets_independent.py).

Each test checks the result against the editor's server-side state and that no cell outside the requested
range changed, on any tab of any book (a snapshot of everything before and after).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from tests.sites.sheets_independent import EMAIL, NAME, IndependentSheets, Tab, col_name, parse_a1
from zigral.agents.shaun import Shaun
from zigral.config import load_settings
from zigral.testing.harness import ActionRunner, Run, headless_browser
from zigral.testing.server import FixtureServer, serve

pytestmark = pytest.mark.integration

Snapshot = dict[tuple[str, str], dict[tuple[int, int], str]]
TABS = [{"name": "Summary", "gid": 511904}, {"name": "Raw data", "gid": 0}, {"name": "Notes", "gid": 2077311}]


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[IndependentSheets, FixtureServer]]:
    site = IndependentSheets()
    with serve() as server:
        site.install(server)
        yield site, server


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with headless_browser() as b:
        yield b


@dataclass
class Sheets:
    site: IndependentSheets
    base: str
    page: Page
    runner: ActionRunner
    before: Snapshot
    elapsed: float = 0.0

    def run(self, action: str, timeout: float = 30.0, **params: Any) -> Run:
        start = time.monotonic()
        try:
            return self.runner.run(action, timeout=timeout, **params)
        finally:
            self.elapsed = time.monotonic() - start

    def grid(self, book: str, tab: str, a1: str) -> list[list[str]]:
        t = self.site.books[book].tab(name=tab)
        assert t is not None
        box = parse_a1(a1, t)
        assert box is not None
        r0, c0, r1, c1 = box
        return [[t.display(r, c) for c in range(c0, c1 + 1)] for r in range(r0, r1 + 1)]

    def changed_outside(
        self, book: str | None = None, tab: str | None = None, a1: str | None = None
    ) -> list[str]:
        """Every cell of every book and tab that changed since the test began, outside ``book/tab!a1``."""
        after = self.site.snapshot()
        out = []
        for key in sorted(set(self.before) | set(after)):
            old, new = self.before.get(key, {}), after.get(key, {})
            t = self.site.books[key[0]].tab(name=key[1])
            box = parse_a1(a1, t) if t and a1 and key == (book, tab) else None
            for r, c in sorted(set(old) | set(new)):
                inside = box is not None and box[0] <= r <= box[2] and box[1] <= c <= box[3]
                if not inside and old.get((r, c), "") != new.get((r, c), ""):
                    out.append(
                        f"{key[0]}/{key[1]}!{col_name(c)}{r + 1}: {old.get((r, c))!r} -> {new.get((r, c))!r}"
                    )
        return out


@pytest.fixture
def open_sheets(
    served: tuple[IndependentSheets, FixtureServer], browser: Browser, tmp_path: Path
) -> Iterator[Callable[..., Sheets]]:
    site, server = served
    contexts: list[BrowserContext] = []

    def make(signed_in: bool = True) -> Sheets:
        site.reset()
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        contexts.append(context)
        if signed_in:
            context.add_cookies([site.cookie(server.base)])  # type: ignore[list-item]
        page = context.new_page()
        settings = load_settings(
            None, shaun={"base_url": server.base, "keystroke_delay_ms": 0, "verify_timeout": 5}
        )
        runner = ActionRunner(
            Shaun(settings), page, tmp_path, allow_private=(server.base.removeprefix("http://"),)
        )
        return Sheets(site, server.base, page, runner, site.snapshot())

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def sheets(open_sheets: Callable[..., Sheets]) -> Sheets:
    return open_sheets()


@pytest.fixture(params=["paste", "typing"])
def writer(request: pytest.FixtureRequest, open_sheets: Callable[..., Sheets]) -> Sheets:
    """The editor as is, and with a grid that ignores paste (the writer must fall back to typing)."""
    sheets = open_sheets()
    sheets.site.paste = request.param == "paste"
    return sheets


def failed_saying(run: Run, *words: str) -> bool:
    text = (run.error or "").lower()
    return not run.ok and any(w in text for w in words)


# ------------------------------------------------------------------------------------------ session
def test_check_session_reports_the_signed_in_account(sheets: Sheets) -> None:
    run = sheets.run("check_session")
    assert run.ok, run
    assert run.result["logged_in"] is True, run.result
    assert NAME in str(run.result.values()) or EMAIL in str(run.result.values()), run.result


def test_check_session_reports_a_signed_out_browser(open_sheets: Callable[..., Sheets]) -> None:
    sheets = open_sheets(signed_in=False)
    run = sheets.run("check_session")
    assert run.ok, run
    assert run.result["logged_in"] is False, run.result


# ------------------------------------------------------------------------------------------ open
def test_open_sheet_reports_the_title_every_tab_with_its_gid_and_edit_rights(sheets: Sheets) -> None:
    run = sheets.run("open_sheet", spreadsheet=f"{sheets.base}/spreadsheets/d/q3report/edit")
    assert run.ok, run
    assert run.result["title"] == "Q3 report"
    assert run.result["tabs"] == TABS
    assert run.result["can_edit"] is True
    assert sheets.site.saves == [] and sheets.changed_outside() == []


def test_open_sheet_of_a_view_only_book_says_it_cannot_be_edited(sheets: Sheets) -> None:
    run = sheets.run("open_sheet", spreadsheet="pricelist")
    assert run.ok, run
    assert run.result["tabs"] == [{"name": "Prices", "gid": 0}]
    assert run.result["can_edit"] is False


def test_open_sheet_of_a_missing_book_fails_fast_saying_not_found(sheets: Sheets) -> None:
    run = sheets.run("open_sheet", spreadsheet="doesnotexist")
    assert failed_saying(run, "not found", "not_found", "does not exist"), run
    assert sheets.elapsed < 5, f"took {sheets.elapsed:.1f}s"


def test_open_sheet_with_a_tab_activates_it_and_an_unknown_tab_fails_naming_the_tabs(sheets: Sheets) -> None:
    run = sheets.run("open_sheet", spreadsheet="q3report", sheet="Notes")
    assert run.ok, run
    assert "gid=2077311" in sheets.page.url, sheets.page.url
    nope = sheets.run("open_sheet", spreadsheet="q3report", sheet="Nope")
    assert failed_saying(nope, "nope"), nope
    assert "Raw data" in (nope.error or ""), nope


# ------------------------------------------------------------------------------------------ read
def test_a_read_follows_the_exports_redirect(sheets: Sheets) -> None:
    """docs.google.com's export answers 307 (to the file server) before it sends the CSV."""
    run = sheets.run("read_range", spreadsheet="q3report", range="Summary!A1:B2")
    assert run.ok, run
    assert run.result["rows"] == [["Item", "Qty"], ["Rent", "1"]]


def test_a_read_follows_the_exports_redirect_to_another_host(sheets: Sheets) -> None:
    """The real redirect goes to a file server on another host, by a signed URL (no cookie needed)."""
    port = sheets.base.rpartition(":")[2]
    sheets.site.export_host = "localhost"
    sheets.runner.allow_private = (*sheets.runner.allow_private, f"localhost:{port}")
    run = sheets.run("read_range", spreadsheet="q3report", range="Summary!A1:B2")
    assert run.ok, run
    assert run.result["rows"] == [["Item", "Qty"], ["Rent", "1"]]


def test_read_range_on_a_second_tab_whose_name_has_a_space(sheets: Sheets) -> None:
    run = sheets.run("read_range", spreadsheet="q3report", range="'Raw data'!B2:D4")
    assert run.ok, run
    assert run.result["rows"] == [[f"r{r}c{c}" for c in range(1, 4)] for r in range(1, 4)]


def test_read_range_returns_the_whole_rectangle_even_past_the_data(sheets: Sheets) -> None:
    run = sheets.run("read_range", spreadsheet="q3report", range="Summary!A4:D8")
    assert run.ok, run
    assert run.result["rows"] == [
        ["Paper", "10", "4", ""],
        ["", "", "", ""],
        ["Total", "", "1216.5", ""],
        ["", "", "", ""],
        ["", "", "", ""],
    ]


def test_read_range_of_whole_columns_is_bounded_by_the_used_range(sheets: Sheets) -> None:
    run = sheets.run("read_range", spreadsheet="q3report", range="Notes!A:B")
    assert run.ok, run
    assert run.result["rows"] == [
        ["Note", "Owner"],
        ["call the bank", "ann"],
        ["rent is due", "bob"],
        ["", ""],
    ]


def test_read_range_of_a_view_only_book_works(sheets: Sheets) -> None:
    run = sheets.run("read_range", spreadsheet="pricelist", range="Prices!A1:B3")
    assert run.ok, run
    assert run.result["rows"] == [["Year", "Price"], ["2024", "10"], ["2025", "12"]]


def test_read_range_of_a_missing_book_fails_fast_saying_not_found(sheets: Sheets) -> None:
    run = sheets.run("read_range", spreadsheet="doesnotexist", range="Sheet1!A1:B2")
    assert failed_saying(run, "not found", "not_found", "does not exist"), run
    assert sheets.elapsed < 5, f"took {sheets.elapsed:.1f}s"


# ------------------------------------------------------------------------------------------ write
def test_write_range_stores_values_as_typed_on_a_second_tab(writer: Sheets) -> None:
    values = [["=1+2", "007", 42, 2.5, True, "+5", "2024-01-05", "@home"]]
    run = writer.run("write_range", spreadsheet="q3report", range="'Raw data'!B30", values=values)
    assert run.ok, run
    assert (run.result["range"], run.result["cells"], run.result["verified"]) == (
        "'Raw data'!B30:I30",
        8,
        True,
    )
    assert writer.grid("q3report", "Raw data", "B30:I30") == [
        ["=1+2", "007", "42", "2.5", "TRUE", "+5", "2024-01-05", "@home"]
    ]
    assert writer.changed_outside("q3report", "Raw data", "B30:I30") == []


def test_a_formula_is_evaluated_only_with_formulas_true(writer: Sheets) -> None:
    text = writer.run("write_range", spreadsheet="q3report", range="Notes!B8", values=[["=1+2"]])
    formula = writer.run(
        "write_range", spreadsheet="q3report", range="Notes!C8", values=[["=1+2"]], formulas=True
    )
    assert text.ok and formula.ok, (text, formula)
    assert writer.grid("q3report", "Notes", "B8:C8") == [["=1+2", "3"]]
    assert writer.changed_outside("q3report", "Notes", "B8:C8") == []


def test_a_value_with_a_newline_stays_inside_its_cell(writer: Sheets) -> None:
    values = [["line one\nline two", "after"], ["next", "row"]]
    run = writer.run("write_range", spreadsheet="q3report", range="'Raw data'!B5:C6", values=values)
    assert writer.changed_outside("q3report", "Raw data", "B5:C6") == []
    assert run.ok, run
    assert writer.grid("q3report", "Raw data", "B5:C6") == values


def test_a_value_with_a_tab_stays_inside_its_cell(writer: Sheets) -> None:
    values = [["left\tright", "after"], ["next", "row"]]
    run = writer.run("write_range", spreadsheet="q3report", range="'Raw data'!D8:E9", values=values)
    assert writer.changed_outside("q3report", "Raw data", "D8:E9") == []
    if not writer.site.paste and not run.ok:  # no key types a tab into a cell: refusing, unchanged, is right
        assert "tab" in (run.error or "") and writer.changed_outside() == [], run
        return
    assert run.ok, run
    assert writer.grid("q3report", "Raw data", "D8:E9") == values


def test_leading_and_trailing_spaces_are_kept(writer: Sheets) -> None:
    values = [["  two leading", "trailing  ", " both "]]
    run = writer.run("write_range", spreadsheet="q3report", range="Notes!A12", values=values)
    assert writer.changed_outside("q3report", "Notes", "A12:C12") == []
    assert run.ok, run
    assert writer.grid("q3report", "Notes", "A12:C12") == values
    limit = 5 if writer.site.paste else 10  # typing follows a paste that did nothing
    assert writer.elapsed < limit, f"took {writer.elapsed:.1f}s"


def test_quotes_in_a_value_are_kept(writer: Sheets) -> None:
    values = [['"quoted"', 'say "hi"', '"open'], ["x", "y", "z"]]
    run = writer.run("write_range", spreadsheet="q3report", range="Notes!D14", values=values)
    assert writer.changed_outside("q3report", "Notes", "D14:F15") == []
    assert run.ok, run
    assert writer.grid("q3report", "Notes", "D14:F15") == values


def test_an_empty_string_clears_its_cell_inside_the_range(writer: Sheets) -> None:
    values = [["new", "", "end"], ["", "mid", ""]]
    run = writer.run("write_range", spreadsheet="q3report", range="'Raw data'!A2:C3", values=values)
    assert writer.changed_outside("q3report", "Raw data", "A2:C3") == []
    assert run.ok, run
    assert writer.grid("q3report", "Raw data", "A2:C3") == values


def test_a_50x10_write_is_exact_and_takes_under_ten_seconds(sheets: Sheets) -> None:
    values: list[list[Any]] = [[f"v{r}.{c}" if c % 2 else r * 10 + c for c in range(10)] for r in range(50)]
    run = sheets.run("write_range", timeout=60, spreadsheet="q3report", range="'Raw data'!A40", values=values)
    assert sheets.changed_outside("q3report", "Raw data", "A40:J89") == []
    assert run.ok, run
    assert sheets.grid("q3report", "Raw data", "A40:J89") == [[str(v) for v in row] for row in values]
    assert sheets.elapsed < 10, f"a 50x10 write took {sheets.elapsed:.1f}s"


def test_a_write_to_a_view_only_book_fails_fast_saying_view_only_and_types_nothing(sheets: Sheets) -> None:
    run = sheets.run("write_range", spreadsheet="pricelist", range="Prices!A5", values=[["nope", 1]])
    assert failed_saying(run, "view-only", "view only", "view_only"), run
    assert sheets.elapsed < 5, f"took {sheets.elapsed:.1f}s"
    assert sheets.site.saves == [] and sheets.changed_outside() == []


def test_a_write_to_a_missing_book_fails_fast_saying_not_found(sheets: Sheets) -> None:
    run = sheets.run("write_range", spreadsheet="doesnotexist", range="Sheet1!A1", values=[["x"]])
    assert failed_saying(run, "not found", "not_found", "does not exist"), run
    assert sheets.elapsed < 5, f"took {sheets.elapsed:.1f}s"
    assert sheets.site.saves == []


def test_a_write_types_nothing_when_the_sheet_cannot_be_read_back(sheets: Sheets) -> None:
    sheets.site.export_status = 500
    run = sheets.run("write_range", spreadsheet="q3report", range="Notes!B20", values=[["a", "b"]])
    assert not run.ok, run
    assert sheets.site.saves == [] and sheets.changed_outside() == []


def test_a_read_of_a_column_of_mixed_types_returns_every_value(sheets: Sheets) -> None:
    run = sheets.run("read_range", spreadsheet="q3report", range="'Raw data'!J1:J5")
    assert run.ok, run
    assert run.result["rows"] == [["code"], ["17"], ["A-4"], ["9"], ["12"]]


def test_a_range_larger_than_the_values_writes_only_the_values(writer: Sheets) -> None:
    run = writer.run("write_range", spreadsheet="q3report", range="'Raw data'!B2:D4", values=[["x"]])
    assert writer.changed_outside("q3report", "Raw data", "B2") == []
    assert run.ok, run
    assert writer.grid("q3report", "Raw data", "B2:C3") == [["x", "r1c2"], ["r2c1", "r2c2"]]


def test_values_larger_than_the_range_are_refused_before_anything_is_typed(sheets: Sheets) -> None:
    run = sheets.run(
        "write_range", spreadsheet="q3report", range="Notes!B10:C10", values=[["a", "b"], ["c", "d"]]
    )
    assert not run.ok, run
    assert sheets.site.saves == [] and sheets.changed_outside() == []


def test_ragged_rows_write_only_the_cells_given(writer: Sheets) -> None:
    run = writer.run(
        "write_range", spreadsheet="q3report", range="'Raw data'!A2", values=[["a", "b", "c"], ["d"]]
    )
    assert writer.changed_outside("q3report", "Raw data", "A2:C3") == []
    assert run.ok, run
    assert writer.grid("q3report", "Raw data", "A2:C3") == [["a", "b", "c"], ["d", "r2c1", "r2c2"]]


def test_a_leading_apostrophe_and_unicode_are_kept(writer: Sheets) -> None:
    values = [["'quoted", "naïve 日本語 🎉", "x" * 300]]
    run = writer.run("write_range", spreadsheet="q3report", range="Notes!A16", values=values)
    assert writer.changed_outside("q3report", "Notes", "A16:C16") == []
    assert run.ok, run
    assert writer.grid("q3report", "Notes", "A16:C16") == values


def test_a_write_by_url_to_another_tab_than_the_urls_gid_goes_to_the_named_tab(sheets: Sheets) -> None:
    url = f"{sheets.base}/spreadsheets/d/q3report/edit#gid=2077311"
    run = sheets.run("write_range", spreadsheet=url, range="Summary!B10", values=[["here"]])
    assert sheets.changed_outside("q3report", "Summary", "B10") == []
    assert run.ok, run
    assert sheets.grid("q3report", "Summary", "B10") == [["here"]]


def test_a_write_to_an_unknown_tab_fails_naming_the_tabs_and_types_nothing(sheets: Sheets) -> None:
    run = sheets.run("write_range", spreadsheet="q3report", range="Nope!A1", values=[["x"]])
    assert failed_saying(run, "nope"), run
    assert "Raw data" in (run.error or ""), run
    assert sheets.site.saves == [] and sheets.changed_outside() == []


def test_a_write_from_a_signed_out_browser_types_nothing(open_sheets: Callable[..., Sheets]) -> None:
    sheets = open_sheets(signed_in=False)
    run = sheets.run("write_range", spreadsheet="q3report", range="Notes!B10", values=[["x"]])
    assert not run.ok, run
    assert sheets.elapsed < 10, f"took {sheets.elapsed:.1f}s"
    assert sheets.site.saves == [] and sheets.changed_outside() == []


def test_a_cell_left_half_edited_in_the_tab_is_not_committed_by_a_write(sheets: Sheets) -> None:
    sheets.page.goto(f"{sheets.base}/spreadsheets/d/q3report/edit")
    sheets.page.fill("#t-name-box", "A10")
    sheets.page.press("#t-name-box", "Enter")
    sheets.page.keyboard.type("half typed")  # someone's edit, not committed
    run = sheets.run("write_range", spreadsheet="q3report", range="Notes!B10", values=[["x"]])
    assert sheets.changed_outside("q3report", "Notes", "B10") == []
    assert run.ok, run
    assert sheets.grid("q3report", "Notes", "B10") == [["x"]]


def test_a_range_left_selected_in_the_tab_does_not_widen_a_write(sheets: Sheets) -> None:
    sheets.page.goto(f"{sheets.base}/spreadsheets/d/q3report/edit")
    sheets.page.fill("#t-name-box", "Notes!A1:H30")
    sheets.page.press("#t-name-box", "Enter")
    run = sheets.run("write_range", spreadsheet="q3report", range="Notes!B10", values=[["x"]])
    assert sheets.changed_outside("q3report", "Notes", "B10") == []
    assert run.ok, run
    assert sheets.grid("q3report", "Notes", "B10") == [["x"]]


def test_append_rows_to_a_view_only_book_fails_fast_saying_view_only(sheets: Sheets) -> None:
    run = sheets.run("append_rows", spreadsheet="pricelist", sheet="Prices", rows=[["2026", 13]])
    assert failed_saying(run, "view-only", "view only", "view_only"), run
    assert sheets.elapsed < 5, f"took {sheets.elapsed:.1f}s"
    assert sheets.site.saves == [] and sheets.changed_outside() == []


def test_numbers_are_verified_as_sheets_displays_them(writer: Sheets) -> None:
    values = [[1 / 3, 3.141592653589793, 0.1 + 0.2, 1.5e20]]
    run = writer.run("write_range", spreadsheet="q3report", range="Notes!A18", values=values)
    assert writer.changed_outside("q3report", "Notes", "A18:D18") == []
    assert run.ok, run
    assert writer.grid("q3report", "Notes", "A18:D18") == [["0.3333333333", "3.141592654", "0.3", "1.5E+20"]]


def test_a_book_this_account_cannot_open_fails_fast(sheets: Sheets) -> None:
    opened = sheets.run("open_sheet", spreadsheet="private9")
    assert failed_saying(opened, "access", "permission", "denied"), opened
    assert sheets.elapsed < 5, f"took {sheets.elapsed:.1f}s"
    written = sheets.run("write_range", spreadsheet="private9", range="Sheet1!A1", values=[["x"]])
    assert failed_saying(written, "access", "permission", "denied"), written
    assert sheets.elapsed < 5, f"took {sheets.elapsed:.1f}s"
    assert sheets.site.saves == []


def test_read_range_of_whole_rows_is_bounded_by_the_used_range(sheets: Sheets) -> None:
    run = sheets.run("read_range", spreadsheet="q3report", range="Summary!2:3")
    assert run.ok, run
    assert run.result["rows"] == [["Rent", "1", "1200"], ["Coffee beans", "3", "12.5"]]


def test_a_book_this_account_may_only_comment_on_is_not_editable(sheets: Sheets) -> None:
    opened = sheets.run("open_sheet", spreadsheet="reviewed")
    assert opened.ok, opened
    assert opened.result["can_edit"] is False
    run = sheets.run("write_range", spreadsheet="reviewed", range="Plan!A2", values=[["x"]])
    assert failed_saying(run, "view-only", "view only", "view_only", "comment", "cannot edit", "read-only"), (
        run
    )
    assert sheets.elapsed < 5, f"took {sheets.elapsed:.1f}s"
    assert sheets.site.saves == [] and sheets.changed_outside() == []


def test_a_write_over_a_hidden_row_writes_every_row_of_the_range(writer: Sheets) -> None:
    values = [["six", 6], ["seven", 7], ["eight", 8]]  # row 7 of 'Raw data' is hidden
    run = writer.run("write_range", spreadsheet="q3report", range="'Raw data'!B6:C8", values=values)
    assert writer.changed_outside("q3report", "Raw data", "B6:C8") == []
    assert run.ok, run
    assert writer.grid("q3report", "Raw data", "B6:C8") == [["six", "6"], ["seven", "7"], ["eight", "8"]]


# ------------------------------------------------------------------------------------------ append
def appended_row(run: Run) -> int:
    """The 1-based first row of an append's ``range`` (``Notes!A5:B6`` -> 5)."""
    assert run.ok, run
    cells = run.result["range"].rpartition("!")[2]
    box = parse_a1(cells, Tab("any", 0))
    assert box is not None and box[1] == 0, run.result
    return box[0] + 1


def test_append_rows_goes_below_the_data_without_overwriting(writer: Sheets) -> None:
    run = writer.run("append_rows", spreadsheet="q3report", sheet="Notes", rows=[["pay rent", "cy"]])
    assert writer.changed_outside("q3report", "Notes", "A4:B5") == []
    row = appended_row(run)
    # Below the table (A1:B3) or below the used range (C4 holds a footnote): both are sane.
    assert row in (4, 5), run.result
    assert run.result["range"] == f"Notes!A{row}:B{row}"
    assert writer.grid("q3report", "Notes", f"A{row}:C{row}") == [
        ["pay rent", "cy", "footnote" if row == 4 else ""]
    ]


def test_two_appends_go_one_below_the_other(sheets: Sheets) -> None:
    one = sheets.run("append_rows", spreadsheet="q3report", sheet="Raw data", rows=[["first", 1]])
    sheets.runner.memo.clear()  # a new task
    two = sheets.run("append_rows", spreadsheet="q3report", sheet="Raw data", rows=[["second", 2]])
    start = appended_row(one)
    assert start > 20 and appended_row(two) == start + 1, (one.result, two.result)
    assert sheets.changed_outside("q3report", "Raw data", f"A{start}:B{start + 1}") == []
    assert sheets.grid("q3report", "Raw data", f"A{start}:B{start + 1}") == [["first", "1"], ["second", "2"]]


def test_an_append_run_twice_with_the_same_task_memo_writes_once(writer: Sheets) -> None:
    rows = [["Coffee", 12], ["Paper", 4]]
    one = writer.run("append_rows", spreadsheet="q3report", sheet="Notes", rows=rows)
    two = writer.run(
        "append_rows", spreadsheet="q3report", sheet="Notes", rows=rows
    )  # redelivered: same memo
    start = appended_row(one)
    assert two.ok and two.result["range"] == one.result["range"], (one, two)
    assert writer.changed_outside("q3report", "Notes", f"A{start}:B{start + 1}") == []
    assert writer.grid("q3report", "Notes", f"A{start}:B{start + 3}") == [
        ["Coffee", "12"],
        ["Paper", "4"],
        ["", ""],
        ["", ""],
    ]


# ------------------------------------------------------------------------------------------ find
def test_find_reports_every_match_with_its_tab_and_cell(sheets: Sheets) -> None:
    run = sheets.run("find", spreadsheet="q3report", text="rent")
    assert run.ok, run
    key = lambda m: (m["sheet"], m["cell"])  # noqa: E731
    assert sorted(run.result["matches"], key=key) == [
        {"sheet": "Notes", "cell": "A3", "value": "rent is due"},
        {"sheet": "Summary", "cell": "A2", "value": "Rent"},
    ]
    far = sheets.run("find", spreadsheet="q3report", text="far away")
    assert far.ok and far.result["matches"] == [{"sheet": "Raw data", "cell": "K25", "value": "far away"}], (
        far
    )


def test_find_in_one_tab_and_with_case(sheets: Sheets) -> None:
    only = sheets.run("find", spreadsheet="q3report", text="rent", sheet="Notes")
    cased = sheets.run("find", spreadsheet="q3report", text="Rent", match_case=True)
    assert only.ok and cased.ok, (only, cased)
    assert only.result["matches"] == [{"sheet": "Notes", "cell": "A3", "value": "rent is due"}]
    assert cased.result["matches"] == [{"sheet": "Summary", "cell": "A2", "value": "Rent"}]


def test_find_matches_what_cells_show_not_their_formulas(sheets: Sheets) -> None:
    formula = sheets.run("find", spreadsheet="q3report", text="SUM")
    shown = sheets.run("find", spreadsheet="q3report", text="1216")
    assert formula.ok and shown.ok, (formula, shown)
    assert formula.result["matches"] == []
    assert shown.result["matches"] == [{"sheet": "Summary", "cell": "C6", "value": "1216.5"}]


def test_read_range_of_one_cell(sheets: Sheets) -> None:
    run = sheets.run("read_range", spreadsheet="q3report", range="Summary!C6")
    assert run.ok and run.result["rows"] == [["1216.5"]], run


# ------------------------------------------------------------------------------------------ clear
def test_clear_range_of_a_block_on_a_second_tab_clears_exactly_it(writer: Sheets) -> None:
    run = writer.run("clear_range", spreadsheet="q3report", range="'Raw data'!C3:E5")
    assert writer.changed_outside("q3report", "Raw data", "C3:E5") == []
    assert run.ok, run
    assert writer.grid("q3report", "Raw data", "C3:E5") == [["", "", ""]] * 3


def test_clear_range_of_one_cell_clears_only_it(sheets: Sheets) -> None:
    run = sheets.run("clear_range", spreadsheet="q3report", range="Summary!B3")
    assert sheets.changed_outside("q3report", "Summary", "B3") == []
    assert run.ok, run
    assert sheets.grid("q3report", "Summary", "A3:C3") == [["Coffee beans", "", "12.5"]]


def test_clear_range_on_a_view_only_book_fails_fast_saying_view_only(sheets: Sheets) -> None:
    run = sheets.run("clear_range", spreadsheet="pricelist", range="Prices!A1:B2")
    assert failed_saying(run, "view-only", "view only", "view_only"), run
    assert sheets.elapsed < 5, f"took {sheets.elapsed:.1f}s"
    assert sheets.site.saves == [] and sheets.changed_outside() == []


def test_clear_range_of_whole_columns_clears_only_them(sheets: Sheets) -> None:
    run = sheets.run("clear_range", spreadsheet="q3report", range="Notes!C:D")
    assert sheets.changed_outside("q3report", "Notes", "C:D") == []
    assert run.ok, run
    assert sheets.grid("q3report", "Notes", "A3:C4") == [["rent is due", "bob", ""], ["", "", ""]]


def test_append_rows_keeps_formula_text_and_newlines_in_their_cells(writer: Sheets) -> None:
    run = writer.run(
        "append_rows", spreadsheet="q3report", sheet="Raw data", rows=[["=2+2", "two\nlines", 7]]
    )
    row = appended_row(run)
    assert row > 20, run.result
    assert writer.changed_outside("q3report", "Raw data", f"A{row}:C{row}") == []
    assert writer.grid("q3report", "Raw data", f"A{row}:C{row}") == [["=2+2", "two\nlines", "7"]]


def test_newlines_at_the_edges_of_a_value_are_kept(writer: Sheets) -> None:
    values = [["ends with a newline\n", "\nstarts with one", "two\n\nblank"]]
    run = writer.run("write_range", spreadsheet="q3report", range="Notes!A20", values=values)
    assert writer.changed_outside("q3report", "Notes", "A20:C20") == []
    assert run.ok, run
    assert writer.grid("q3report", "Notes", "A20:C20") == values


def test_read_range_parses_commas_quotes_and_newlines(sheets: Sheets) -> None:
    tab = sheets.site.books["q3report"].tab(name="Notes")
    assert tab is not None
    texts = ["a, b", 'say "hi"', "one\ntwo", "'lead", " pad "]
    for c, text in enumerate(texts):
        tab.put(30, c, "'" + text)
    run = sheets.run("read_range", spreadsheet="q3report", range="Notes!A31:E31")
    assert run.ok, run
    assert run.result["rows"] == [texts]


@pytest.mark.parametrize("seconds", [4, 9])
def test_a_write_that_cannot_finish_by_its_deadline_stops_and_names_what_it_changed(
    open_sheets: Callable[..., Sheets], seconds: float
) -> None:
    sheets = open_sheets()
    sheets.site.paste = False  # typing only: 200 cells do not fit
    values = [[f"d{r}.{c}" for c in range(10)] for r in range(20)]
    run = sheets.run(
        "write_range", timeout=seconds, spreadsheet="q3report", range="'Raw data'!A40", values=values
    )
    assert sheets.elapsed < seconds + 1.5, f"a write with a {seconds} s deadline took {sheets.elapsed:.1f}s"
    time.sleep(1)  # anything still typing after the action returned would show now
    assert sheets.changed_outside("q3report", "Raw data", "A40:J59") == []
    if run.ok:
        assert sheets.grid("q3report", "Raw data", "A40:J59") == values
        return
    changed = sheets.site.snapshot()[("q3report", "Raw data")] != sheets.before[("q3report", "Raw data")]
    assert not changed or "changed" in (run.error or ""), run


# ------------------------------------------------------------------------------------------ traps
def test_a_tab_named_view_only_does_not_make_an_editable_book_view_only(sheets: Sheets) -> None:
    opened = sheets.run("open_sheet", spreadsheet="tracker")
    assert opened.ok, opened
    assert opened.result["can_edit"] is True
    assert opened.result["title"] == 'R&D "tracker" <2026>'
    assert opened.result["tabs"] == [{"name": "View only", "gid": 42}, {"name": "Bob's list", "gid": 7}]
    run = sheets.run("write_range", spreadsheet="tracker", range="'View only'!B2", values=[[True]])
    assert sheets.changed_outside("tracker", "View only", "B2") == []
    assert run.ok, run
    assert sheets.grid("tracker", "View only", "A2:B2") == [["paint", "TRUE"]]


def test_a_tab_name_with_an_apostrophe_is_read_written_and_appended(writer: Sheets) -> None:
    read = writer.run("read_range", spreadsheet="tracker", range="'Bob''s list'!A1:B2")
    assert read.ok and read.result["rows"] == [["Who", "What"], ["bob", "tea"]], read
    wrote = writer.run("write_range", spreadsheet="tracker", range="'Bob''s list'!C2", values=[["milk"]])
    appended = writer.run("append_rows", spreadsheet="tracker", sheet="Bob's list", rows=[["ann", "coffee"]])
    assert writer.changed_outside("tracker", "Bob's list", "A2:C3") == []
    assert wrote.ok and appended.ok, (wrote, appended)
    assert writer.grid("tracker", "Bob's list", "A1:C3") == [
        ["Who", "What", ""],
        ["bob", "tea", "milk"],
        ["ann", "coffee", ""],
    ]


def test_a_sharing_url_with_an_account_number_opens_the_book(sheets: Sheets) -> None:
    url = f"{sheets.base}/spreadsheets/u/0/d/q3report/edit?usp=sharing#gid=0"
    run = sheets.run("open_sheet", spreadsheet=url)
    assert run.ok, run
    assert run.result["title"] == "Q3 report" and run.result["tabs"] == TABS


def test_a_read_whose_export_lands_on_the_sign_in_page_fails_instead_of_returning_its_html(
    sheets: Sheets,
) -> None:
    sheets.site.export_signed_out = True
    run = sheets.run("read_range", spreadsheet="q3report", range="Summary!A1:B2")
    assert not run.ok, run
    find = sheets.run("find", spreadsheet="q3report", text="sign")
    assert not find.ok, find


def test_writes_and_appends_wait_for_slow_saves(sheets: Sheets) -> None:
    sheets.site.save_delay = 1.0
    wrote = sheets.run("write_range", spreadsheet="q3report", range="Notes!B10:C10", values=[["a", "b"]])
    one = sheets.run("append_rows", spreadsheet="q3report", sheet="Notes", rows=[["x", 1]])
    sheets.runner.memo.clear()
    two = sheets.run("append_rows", spreadsheet="q3report", sheet="Notes", rows=[["y", 2]])
    assert wrote.ok and one.ok and two.ok, (wrote, one, two)
    start = appended_row(one)
    assert appended_row(two) == start + 1 and start >= 11, (one.result, two.result)
    assert sheets.grid("q3report", "Notes", f"A{start}:B{start + 1}") == [["x", "1"], ["y", "2"]]
    assert sheets.grid("q3report", "Notes", "B10:C10") == [["a", "b"]]


def test_an_append_to_a_full_grid_adds_rows_and_lands_below_the_last_row(writer: Sheets) -> None:
    run = writer.run("append_rows", spreadsheet="1Led-ger_9", sheet="Log", rows=[["2026-01-21", 60]])
    assert writer.changed_outside("1Led-ger_9", "Log", "A21:B21") == []
    assert run.ok, run
    assert run.result["range"] == "Log!A21:B21"
    assert writer.grid("1Led-ger_9", "Log", "A20:B21") == [["2026-01-20", "57"], ["2026-01-21", "60"]]


def test_a_write_to_a_protected_tab_fails_saying_so_and_the_next_write_works(writer: Sheets) -> None:
    run = writer.run("write_range", spreadsheet="1Led-ger_9", range="Locked!B2", values=[["sneaky"]])
    after = writer.run("write_range", spreadsheet="1Led-ger_9", range="Log!D2", values=[["note"]])
    assert not run.ok, run
    assert writer.changed_outside("1Led-ger_9", "Log", "D2") == []
    assert after.ok, after
    assert writer.grid("1Led-ger_9", "Log", "D2") == [["note"]]
    # Sheets says why in a dialog; the failure should say it (not a click timeout, not a read-back mismatch).
    assert "protected" in (run.error or "").lower(), run


def test_an_append_does_not_overwrite_a_formula_that_shows_nothing(writer: Sheets) -> None:
    run = writer.run("append_rows", spreadsheet="q3report", sheet="Raw data", rows=[["after", "formulas"]])
    assert writer.site.books["q3report"].tabs[1].cells[(25, 0)].raw == '=""', "A26's formula was overwritten"
    row = appended_row(run)
    assert row >= 27, run.result
    assert writer.grid("q3report", "Raw data", f"A{row}:B{row}") == [["after", "formulas"]]


def test_values_that_are_not_rows_are_refused_before_anything_is_typed(sheets: Sheets) -> None:
    run = sheets.run("write_range", spreadsheet="q3report", range="Notes!B10", values=["a", "b"])
    assert run.status == "rejected", run
    assert sheets.site.saves == []


def test_an_append_cut_off_by_its_deadline_is_repaired_in_place_by_its_retry(
    open_sheets: Callable[..., Sheets],
) -> None:
    sheets = open_sheets()
    sheets.site.paste = False  # typing only: the first attempt runs out of time mid-row
    rows = [[f"p{r}.{c}" for c in range(10)] for r in range(2)]
    first = sheets.run("append_rows", timeout=10, spreadsheet="q3report", sheet="Notes", rows=rows)
    retry = sheets.run(
        "append_rows", timeout=60, spreadsheet="q3report", sheet="Notes", rows=rows
    )  # same memo
    assert retry.ok, (first, retry)
    start = appended_row(retry)
    assert first.ok is False or first.result["range"] == retry.result["range"], (first, retry)
    assert sheets.changed_outside("q3report", "Notes", f"A{start}:J{start + 1}") == []
    assert sheets.grid("q3report", "Notes", f"A{start}:J{start + 2}") == [*rows, [""] * 10]


def test_a_write_past_the_last_column_never_puts_one_value_in_anothers_cell(writer: Sheets) -> None:
    values = [["x", "y", "z", "past1", "past2"]]  # 'Raw data' has 26 columns: X, Y, Z, then two more
    run = writer.run("write_range", spreadsheet="q3report", range="'Raw data'!X3", values=values)
    assert writer.changed_outside("q3report", "Raw data", "X3:AB3") == []
    tab = writer.site.books["q3report"].tab(name="Raw data")
    assert tab is not None
    got = [tab.display(2, c) for c in range(23, 28)]
    assert all(g in ("", want) for g, want in zip(got, values[0], strict=True)), got
    if run.ok:
        assert got == values[0]


def test_a_clear_on_a_protected_tab_fails_saying_so(sheets: Sheets) -> None:
    run = sheets.run("clear_range", spreadsheet="1Led-ger_9", range="Locked!A1:B2")
    assert not run.ok, run
    assert sheets.changed_outside() == []
    assert "protected" in (run.error or "").lower(), run


def test_find_reaches_a_hidden_row(sheets: Sheets) -> None:
    run = sheets.run("find", spreadsheet="q3report", text="r6c1")
    assert run.ok, run
    assert run.result["matches"] == [{"sheet": "Raw data", "cell": "B7", "value": "r6c1"}]


@pytest.mark.parametrize(
    ("action", "params"),
    [
        ("write_range", {"range": "Notes!B10:C10", "values": [["a", "b"]]}),
        ("append_rows", {"sheet": "Notes", "rows": [["x", 1]]}),
    ],
)
def test_saves_slower_than_the_verify_wait_are_never_reported_as_nothing_changed(
    sheets: Sheets, action: str, params: dict[str, Any]
) -> None:
    """Sheets shows "Saving…" until its edits reach the server; they land even after the agent stops."""
    sheets.site.save_delay = 7  # verify_timeout is 5
    run = sheets.run(action, timeout=30, spreadsheet="q3report", **params)
    sheets.page.wait_for_function("document.querySelector('.zq-sync').textContent === 'Saved to Drive'")
    changed = [c.split(": ")[0].split("!")[1] for c in sheets.changed_outside()]
    if run.ok:
        assert changed and all(
            cell in run.result["range"] or run.result["range"].endswith(cell) for cell in changed
        )
        return
    # The failure names the cells it changed ("cells changed: B10:C10"), never "none" for cells that land.
    said = (run.error or "").rpartition("changed")[2]
    assert changed == [] or all(cell in said for cell in changed), (run, changed)
