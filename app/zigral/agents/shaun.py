"""Shaun, the Google Sheets agent: reads through the sheet's own CSV export, writes through the real UI
(Name Box, then typing with Tab and Enter), and proves every write by reading it back.

Values: JSON strings are written as literal text (a leading ``'``, which Sheets hides, so ``=1+2``, ``007``
or ``2024-01-05`` stay as typed); numbers and booleans as values; with ``formulas: true`` a string that
starts with ``=`` is entered as a formula.
"""

from __future__ import annotations

import csv
import io
import time
from typing import Any
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from zigral.actions import Action, ActionContext, NoParams, Params
from zigral.agents import sheets_locators as S
from zigral.agents.a1 import Cell, Range, column_name, parse_range
from zigral.agents.base import Agent
from zigral.config import Settings
from zigral.errors import Rejected, TaskError

Value = str | int | float | bool | None

_FETCH_JS = """async url => {
    const resp = await fetch(url, {credentials: 'include', redirect: 'manual'});
    return {status: resp.status, type: resp.headers.get('content-type') || '', text: await resp.text()};
}"""


class SheetParams(Params):
    spreadsheet: str = Field(min_length=1, max_length=500, description="spreadsheet URL or id")


class OpenParams(SheetParams):
    sheet: str | None = None


class RangeParams(SheetParams):
    range: str = Field(min_length=2, max_length=100, description="A1 range, e.g. Sheet1!A1:D20")

    @field_validator("range")
    @classmethod
    def _a1(cls, value: str) -> str:
        try:
            parse_range(value)
        except Rejected as exc:
            raise ValueError(str(exc)) from None
        return value


def _rectangular(rows: list[list[Value]]) -> list[list[Value]]:
    if not rows or not all(rows):
        raise ValueError("values must be a non-empty list of non-empty rows")
    if sum(len(r) for r in rows) > 10_000:
        raise ValueError("at most 10,000 cells per write")
    return rows


class WriteParams(RangeParams):
    values: list[list[Value]]
    formulas: bool = False

    _rows = field_validator("values")(_rectangular)


class AppendParams(SheetParams):
    sheet: str | None = None
    rows: list[list[Value]]
    formulas: bool = False

    _rows = field_validator("rows")(_rectangular)


class FindParams(SheetParams):
    text: str = Field(min_length=1, max_length=1000)
    sheet: str | None = None
    match_case: bool = False


def typed(value: Value, formulas: bool) -> str:
    """What to type into a cell so that Sheets stores ``value`` as meant."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    if formulas and value.startswith("="):
        return value
    return "'" + value if value else ""


def shown(value: Value) -> str | None:
    """What Sheets should display for ``value`` (None: a formula, not compared)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class Shaun(Agent):
    name = "shaun"
    canary_action = "check_session"

    def __init__(self, settings: Settings) -> None:
        self.cfg = settings.shaun
        super().__init__(settings)

    def site_actions(self) -> list[Action[Any]]:
        return [
            Action("check_session", NoParams, self.check_session),
            Action("open_sheet", OpenParams, self.open_sheet),
            Action("read_range", RangeParams, self.read_range),
            Action("write_range", WriteParams, self.write_range),
            Action("append_rows", AppendParams, self.append_rows),
            Action("find", FindParams, self.find),
            Action("clear_range", RangeParams, self.clear_range),
        ]

    # ------------------------------------------------------------------ the spreadsheet
    def _id(self, spreadsheet: str) -> str:
        if "/" not in spreadsheet:
            return spreadsheet
        if urlsplit(spreadsheet).netloc != urlsplit(self.cfg.base_url).netloc:
            raise Rejected(f"not a Google Sheets URL: {spreadsheet!r}")
        m = S.SPREADSHEET_ID.search(urlsplit(spreadsheet).path)
        if not m:
            raise Rejected(f"no spreadsheet id in {spreadsheet!r}")
        return m.group(1)

    def _open(self, ctx: ActionContext, spreadsheet: str) -> str:
        sid = self._id(spreadsheet)
        ctx.goto(S.edit_url(self.cfg.base_url, sid), "domcontentloaded")
        if "/spreadsheets/d/" not in urlsplit(ctx.page.url).path:
            raise TaskError(f"not signed in to Google Sheets (landed on {urlsplit(ctx.page.url).path})")
        S.grid(ctx.page).wait_for()
        return sid

    def _tabs(self, ctx: ActionContext) -> list[dict[str, Any]]:
        out = []
        tabs = S.tabs(ctx.page)
        for i in range(tabs.count()):
            tab = tabs.nth(i)
            gid = (tab.get_attribute("id") or "").removeprefix("sheet-button-")
            out.append(
                {"name": S.tab_name(tab).inner_text().strip(), "gid": int(gid) if gid.isdigit() else None}
            )
        return out

    def _tab(self, ctx: ActionContext, name: str | None) -> dict[str, Any]:
        tabs = self._tabs(ctx)
        if not tabs:
            raise TaskError("the spreadsheet shows no tabs")
        if name is None:
            return tabs[0]
        for tab in tabs:
            if tab["name"] == name:
                return tab
        raise TaskError(f"no tab named {name!r}; tabs: {', '.join(t['name'] for t in tabs)}")

    def _editable(self, ctx: ActionContext) -> bool:
        return S.view_only(ctx.page).count() == 0

    def _read(self, ctx: ActionContext, sid: str, tab: dict[str, Any], cells: str | None) -> list[list[str]]:
        """Values through the sheet's CSV export, in the signed-in browser context."""
        url = S.export_csv_url(self.cfg.base_url, sid, tab["gid"], cells)
        # Fetched from the editor page itself: same origin and signed-in cookies, as a person would.
        resp = ctx.page.evaluate(_FETCH_JS, url)
        if resp["status"] != 200 or "csv" not in resp["type"]:
            where = f"{resp['status']} ({resp['type'] or 'no type'})"
            raise TaskError(f"the CSV export of tab {tab['name']!r} answered {where}")
        return [row for row in csv.reader(io.StringIO(resp["text"]))]

    def _select(self, ctx: ActionContext, tab_name: str, cells: str) -> None:
        """Go to a tab, then to cells through the Name Box, and give the grid the keyboard."""
        S.tab_named(ctx.page, tab_name).click()
        box = S.name_box(ctx.page)
        box.click()
        box.fill(cells)
        box.press("Enter")

    def _write(
        self, ctx: ActionContext, tab: dict[str, Any], start: Cell, rows: list[list[Value]], formulas: bool
    ) -> None:
        self._select(ctx, tab["name"], str(start))
        keyboard = ctx.page.keyboard
        for row in rows:
            for i, value in enumerate(row):
                text = typed(value, formulas)
                if text:
                    keyboard.type(text, delay=self.cfg.keystroke_delay_ms)
                else:
                    keyboard.press("Delete")
                if i < len(row) - 1:
                    keyboard.press("Tab")
            keyboard.press("Enter")  # commits; after a run of Tabs, back to the run's first column

    @staticmethod
    def _diffs(got: list[list[str]], rng: Range, rows: list[list[Value]], formulas: bool) -> list[str]:
        """Cells of ``rng`` whose displayed value differs from what was written."""
        diffs = []
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                want = None if formulas and isinstance(value, str) and value.startswith("=") else shown(value)
                have = got[r][c] if r < len(got) and c < len(got[r]) else ""
                if want is not None and have != want:
                    diffs.append(
                        f"{Cell(rng.start.row + r, rng.start.col + c)}: wrote {want!r}, reads {have!r}"
                    )
        return diffs

    def _verify(
        self,
        ctx: ActionContext,
        sid: str,
        tab: dict[str, Any],
        rng: Range,
        rows: list[list[Value]],
        formulas: bool,
    ) -> None:
        """Read the range back until it shows what was written; otherwise name the differing cells."""
        end = time.monotonic() + self.cfg.verify_timeout
        while diffs := self._diffs(self._read(ctx, sid, tab, rng.cells), rng, rows, formulas):
            if time.monotonic() > end:
                raise TaskError(f"the write did not read back as written: {'; '.join(diffs[:20])}")
            ctx.page.wait_for_timeout(200)

    def _target(self, start: Cell, sheet: str | None, rows: list[list[Value]]) -> Range:
        width = max(len(r) for r in rows)
        return Range(sheet, start, Cell(start.row + len(rows) - 1, start.col + width - 1))

    # ------------------------------------------------------------------ actions
    def check_session(self, ctx: ActionContext, p: NoParams) -> dict[str, Any]:
        """Signed in to Google or not, and as whom (the Sheets home sends a signed-out browser to sign-in)."""
        ctx.goto(S.home_url(self.cfg.base_url), "domcontentloaded")
        if S.SIGN_IN.search(urlsplit(ctx.page.url).path) or S.sign_in_form(ctx.page).count():
            return {"logged_in": False}
        account = S.account_button(ctx.page)
        label = account.first.get_attribute("aria-label") if account.count() else None
        return {"logged_in": True, "account": S.account_name(label)}

    def open_sheet(self, ctx: ActionContext, p: OpenParams) -> dict[str, Any]:
        sid = self._open(ctx, p.spreadsheet)
        tab = self._tab(ctx, p.sheet)
        if p.sheet:
            S.tab_named(ctx.page, p.sheet).click()
        return {
            "id": sid,
            "title": S.title(ctx.page).input_value(),
            "tabs": self._tabs(ctx),
            "sheet": tab["name"],
            "can_edit": self._editable(ctx),
        }

    def read_range(self, ctx: ActionContext, p: RangeParams) -> dict[str, Any]:
        rng = parse_range(p.range)
        sid = self._open(ctx, p.spreadsheet)
        tab = self._tab(ctx, rng.sheet)
        return {
            "range": str(Range(tab["name"], rng.start, rng.end)),
            "rows": self._read(ctx, sid, tab, rng.cells),
        }

    def write_range(self, ctx: ActionContext, p: WriteParams) -> dict[str, Any]:
        rng = parse_range(p.range)
        sid = self._open(ctx, p.spreadsheet)
        tab = self._tab(ctx, rng.sheet)
        if not self._editable(ctx):
            raise TaskError("the spreadsheet is view-only for this account")
        target = self._target(rng.start, tab["name"], p.values)
        self._write(ctx, tab, rng.start, p.values, p.formulas)
        self._verify(ctx, sid, tab, target, p.values, p.formulas)
        return {"range": str(target), "cells": sum(len(r) for r in p.values), "verified": True}

    def append_rows(self, ctx: ActionContext, p: AppendParams) -> dict[str, Any]:
        sid = self._open(ctx, p.spreadsheet)
        tab = self._tab(ctx, p.sheet)
        if not self._editable(ctx):
            raise TaskError("the spreadsheet is view-only for this account")
        # Idempotent by task id: the first attempt remembers where it appends; a redelivered attempt
        # writes there again (or finds it written) instead of appending a second copy below.
        start_row = ctx.memo.get("append_row")
        if start_row is None:
            start_row = len(self._read(ctx, sid, tab, None))
            ctx.remember("append_row", start_row)
        target = self._target(Cell(int(start_row), 0), tab["name"], p.rows)
        if not self._diffs(self._read(ctx, sid, tab, target.cells), target, p.rows, p.formulas):
            return {"range": str(target), "rows": len(p.rows), "verified": True, "already": True}
        self._write(ctx, tab, target.start, p.rows, p.formulas)
        self._verify(ctx, sid, tab, target, p.rows, p.formulas)
        return {"range": str(target), "rows": len(p.rows), "verified": True, "already": False}

    def find(self, ctx: ActionContext, p: FindParams) -> dict[str, Any]:
        sid = self._open(ctx, p.spreadsheet)
        tabs = [self._tab(ctx, p.sheet)] if p.sheet else self._tabs(ctx)
        needle = p.text if p.match_case else p.text.lower()
        matches = []
        for tab in tabs:
            for r, row in enumerate(self._read(ctx, sid, tab, None)):
                for c, value in enumerate(row):
                    if needle in (value if p.match_case else value.lower()):
                        matches.append(
                            {"sheet": tab["name"], "cell": f"{column_name(c)}{r + 1}", "value": value}
                        )
        return {"matches": matches}

    def clear_range(self, ctx: ActionContext, p: RangeParams) -> dict[str, Any]:
        rng = parse_range(p.range)
        sid = self._open(ctx, p.spreadsheet)
        tab = self._tab(ctx, rng.sheet)
        if not self._editable(ctx):
            raise TaskError("the spreadsheet is view-only for this account")
        self._select(ctx, tab["name"], rng.cells)
        ctx.page.keyboard.press("Delete")
        blank: list[list[Value]] = [[None] * rng.cols for _ in range(rng.rows)]
        self._verify(ctx, sid, tab, Range(tab["name"], rng.start, rng.end), blank, False)
        return {"range": str(Range(tab["name"], rng.start, rng.end)), "cleared": rng.rows * rng.cols}
