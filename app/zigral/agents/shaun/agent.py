"""Shaun, the Google Sheets agent: reads through the sheet's own CSV export, writes through the real UI, and
proves every write by reading it back.

Every write first checks, touching nothing: the book opens (404: ``not_found``), the tab exists and is
active (its gid from the URL), its export reads, the book is editable (no view-only badge, and a probe
keystroke reaches the formula bar and is cancelled: else ``view_only``). Then the Name Box jumps to the
target, and only once it shows exactly that cell or range does a key that changes cells go out. A block
is pasted as tab-separated text into the verified top-left cell, as a person does; what does not read
back as written is typed cell by cell (each after its own verified jump). Every loop stops
``deadline_reserve`` seconds before the deadline, saves a screenshot, and names exactly the cells it
changed. Values are described in :mod:`zigral.agents.shaun.values`.
"""

from __future__ import annotations

import time
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from zigral.actions import Action, ActionContext, NoParams
from zigral.agents.base import Agent
from zigral.agents.shaun import locators as S
from zigral.agents.shaun import params as M
from zigral.agents.shaun.a1 import Cell, Range, column_name, parse_range
from zigral.agents.shaun.editor import MIN_STEP, SheetsEditor, Tab
from zigral.agents.shaun.settings import ShaunSettings
from zigral.agents.shaun.values import Block, Grid, Value, at, span_text
from zigral.config import Settings
from zigral.errors import DeadlineExceeded, LocatorMissing, Rejected, Retryable, TaskError, first_line

MAX_READ = 200_000  # cells of one read_range: the whole rectangle is returned, empty cells included


class Shaun(SheetsEditor, Agent):
    name = "shaun"
    settings_model = ShaunSettings
    order = 2
    canary_action = "check_session"

    def __init__(self, settings: Settings) -> None:
        self.cfg = settings.agent_settings(self.name, ShaunSettings)
        super().__init__(settings)

    def site_actions(self) -> list[Action[Any]]:
        return [
            Action("check_session", NoParams, self.check_session, result=M.SessionResult),
            Action("open_sheet", M.OpenParams, self.open_sheet, result=M.OpenResult),
            Action("read_range", M.RangeParams, self.read_range, result=M.ReadResult),
            Action("write_range", M.WriteParams, self.write_range, result=M.WriteResult),
            Action("append_rows", M.AppendParams, self.append_rows, result=M.AppendResult),
            Action("find", M.FindParams, self.find, result=M.FindResult),
            Action("clear_range", M.RangeParams, self.clear_range, result=M.ClearResult),
        ]

    # ------------------------------------------------------------------ the book
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
        response = ctx.goto(S.edit_url(self.cfg.base_url, sid), "domcontentloaded")
        status = response.status if response is not None else 200
        if status in (404, 410):
            raise TaskError(f"not_found: no spreadsheet {sid!r} (the page answered {status})")
        if S.SIGN_IN.search(urlsplit(ctx.page.url).path):
            raise TaskError(f"not signed in to Google Sheets (landed on {urlsplit(ctx.page.url).path})")
        if status in (401, 403):
            raise TaskError(f"no_access: spreadsheet {sid!r} is not shared with this account ({status})")
        try:
            S.name_box(ctx.page).wait_for(timeout=self._ms(ctx))
        except PlaywrightError:
            if S.says_not_found(ctx.page):
                raise TaskError(f"not_found: no spreadsheet {sid!r} (the page says so)") from None
            raise ctx.missing("name_box", f"the editor of {sid!r} shows no Name Box") from None
        return sid

    # ------------------------------------------------------------------ writing
    def _settled(self, ctx: ActionContext, sid: str, tab: Tab, block: Block, done: str) -> Grid:
        """Read the block back until it shows what was written, its changes stop, or nothing lands."""
        start = last_change = time.monotonic()
        last: Grid | None = None
        while True:
            self._refused(ctx)
            got = self._read(ctx, sid, tab, block.target.cells)
            if not block.diffs(got):
                return got
            now = time.monotonic()
            if got != last:
                last, last_change = got, now
            landed = bool(block.changed(got))
            saving = S.saving(ctx.page)  # edits still on their way: wait for them (until the reserve)
            if not saving and now - last_change >= (self.cfg.settle if landed else self.cfg.land_timeout):
                return got
            if not saving and now - start >= self.cfg.verify_timeout:
                return got
            self._in_time(
                ctx, "reading the write back", partial(self._changed_note, block, got, done, saving)
            )
            ctx.page.wait_for_timeout(50)

    @staticmethod
    def _changed_note(block: Block, got: Grid | None, done: str = "", saving: bool = False) -> str:
        if got is None:
            return done
        note = f"; cells changed: {span_text(block.changed(got))}"
        if saving:
            cells = [block.cell(r, c) for r, row in enumerate(block.rows) for c in range(len(row))]
            note += f"; the editor was still saving, so these may change too: {span_text(cells)}"
        return note

    def _type_cells(self, ctx: ActionContext, sid: str, tab: Tab, block: Block, cells: list[Cell]) -> None:
        """Type ``cells`` of the block; stopped (deadline, a stalled editor), it names the cells changed."""
        try:
            self._type_runs(ctx, block, cells)
        except DeadlineExceeded as exc:
            raise DeadlineExceeded(f"{exc}{self._typed_note(ctx, sid, tab, block)}") from None
        except PlaywrightTimeoutError as exc:
            note = self._typed_note(ctx, sid, tab, block)
            self._screenshot(ctx, "stalled")
            error = DeadlineExceeded if self._left(ctx) < 2 * MIN_STEP else TaskError
            raise error(f"typing stopped: {first_line(exc)}{note}") from None

    def _typed_note(self, ctx: ActionContext, sid: str, tab: Tab, block: Block) -> str:
        """What a stopped typing run changed, read back (until two reads agree) while the reserve lasts."""
        end = time.monotonic() + min(1.0, ctx.deadline.remaining() - 0.5)
        last: Grid | None = None
        try:
            while time.monotonic() < end:
                got = self._read_now(ctx, sid, tab, block.target.cells)
                if got == last:
                    break
                last = got
                ctx.page.wait_for_timeout(100)
        except (PlaywrightError, TaskError):
            pass
        return (
            self._changed_note(block, last)
            if last is not None
            else "; the cells it changed could not be read"
        )

    def _write(self, ctx: ActionContext, sid: str, tab: Tab, block: Block) -> dict[str, Any]:
        """Pre-flight done: paste, read back, type what did not land, read back again."""
        top_left = str(block.target.start)
        self._jump(ctx, str(block.target.end), grow=True)  # the whole block fits in the grid
        self._editable_at(ctx, top_left, sid)
        halo = block.halo()
        around = self._read(ctx, sid, tab, halo.cells) if halo else []
        ctx.resumable()  # the same block written again repairs a write a frozen browser cut off
        pasted = self._paste(ctx, block)
        got = self._settled(ctx, sid, tab, block, "") if pasted else block.before
        if halo and pasted and self._spilled(ctx, sid, tab, block, halo, around):
            got = self._read(ctx, sid, tab, block.target.cells)  # undone: type it instead
        diffs = block.diffs(got)
        method = "paste"
        if diffs:
            method = "type" if not block.changed(got) else "paste+type"
            self._type_cells(ctx, sid, tab, block, [cell for cell, _, _ in diffs])
            got = self._settled(ctx, sid, tab, block, "")
            diffs = block.diffs(got)
        if diffs:
            shown_diffs = "; ".join(f"{cell}: wrote {w!r}, reads {h!r}" for cell, w, h in diffs[:20])
            note = self._changed_note(block, got, saving=S.saving(ctx.page))
            raise TaskError(f"the write did not read back as written: {shown_diffs}{note}")
        return {
            "range": str(block.target),
            "cells": sum(len(r) for r in block.rows),
            "verified": True,
            "method": method,
        }

    def _spilled(
        self, ctx: ActionContext, sid: str, tab: Tab, block: Block, halo: Range, around: Grid
    ) -> bool:
        """A paste this editor split on a quoted newline or tab changed cells below or right of the block:
        undo it (Ctrl+Z) and say so; fail naming those cells if the undo does not restore them."""
        outside = block.outside(halo, around, self._read(ctx, sid, tab, halo.cells))
        if not outside:
            return False
        ctx.page.keyboard.press("ControlOrMeta+Z")
        end = time.monotonic() + self.cfg.land_timeout
        while outside := block.outside(halo, around, self._read(ctx, sid, tab, halo.cells)):
            if time.monotonic() > end:
                raise TaskError(
                    f"the paste spilled outside {block.target} and Ctrl+Z did not restore it: "
                    f"cells changed outside: {span_text(outside)}"
                )
            ctx.page.wait_for_timeout(50)
        return True

    def _prepare(
        self, ctx: ActionContext, sid: str, tab: Tab, start: Cell, rows: list[list[Value]], formulas: bool
    ) -> Block:
        width = max(len(r) for r in rows)
        target = Range(tab.name, start, Cell(start.row + len(rows) - 1, start.col + width - 1))
        before = self._read(ctx, sid, tab, target.cells)  # the export reads: pre-flight
        return Block(target, rows, formulas, before)

    # ------------------------------------------------------------------ actions
    def check_session(self, ctx: ActionContext, p: NoParams) -> dict[str, Any]:
        """Signed in to Google or not, and as whom (the Sheets home sends a signed-out browser to sign-in)."""
        ctx.goto(S.home_url(self.cfg.base_url), "domcontentloaded")
        if S.SIGN_IN.search(urlsplit(ctx.page.url).path) or S.sign_in_form(ctx.page).count():
            return {"logged_in": False}
        account = S.account_button(ctx.page)
        label = account.first.get_attribute("aria-label") if account.count() else None
        return {"logged_in": True, "account": S.account_name(label)}

    def open_sheet(self, ctx: ActionContext, p: M.OpenParams) -> dict[str, Any]:
        """Title, tabs with their gids, the active tab and whether this account can edit."""
        sid = self._open(ctx, p.spreadsheet)
        tabs = [self._tab(ctx, name) for name in self._tab_names(ctx)]
        tab = self._tab(ctx, p.sheet)
        self._jump(ctx, S.name_box(ctx.page).input_value().split(":")[0] or "A1")
        return {
            "id": sid,
            "title": S.title(ctx.page),
            "tabs": [{"name": t.name, "gid": t.gid} for t in tabs],
            "sheet": tab.name,
            "can_edit": not self._can_edit(ctx),
        }

    def read_range(self, ctx: ActionContext, p: M.RangeParams) -> dict[str, Any]:
        """Cells through the export; ``A:C`` and ``2:5`` are cut to the sheet's used range."""
        rng = parse_range(p.range)
        sid = self._open(ctx, p.spreadsheet)
        tab = self._tab(ctx, rng.sheet)
        if not rng.whole:
            if rng.rows * rng.cols > MAX_READ:
                raise Rejected(
                    f"read at most {MAX_READ:,} cells at once; {p.range} has {rng.rows * rng.cols:,}"
                )
            got = self._read(ctx, sid, tab, rng.cells)  # an export may leave out empty trailing cells
            rows = [[at(got, r, c) for c in range(rng.cols)] for r in range(rng.rows)]
            return {"range": str(Range(tab.name, rng.start, rng.end)), "rows": rows}
        used = self._read(ctx, sid, tab, None)
        bounded = Range(tab.name, rng.start, rng.end, rng.whole).bounded(
            len(used), max((len(r) for r in used), default=0)
        )
        if bounded is None:
            return {"range": str(Range(tab.name, rng.start, rng.end, rng.whole)), "rows": []}
        rows = [
            [at(used, r, c) for c in range(bounded.start.col, bounded.end.col + 1)]
            for r in range(bounded.start.row, bounded.end.row + 1)
        ]
        return {"range": str(bounded), "rows": rows}

    def write_range(self, ctx: ActionContext, p: M.WriteParams) -> dict[str, Any]:
        """Write a block from the range's top-left cell (pasted, verified by reading it back)."""
        rng = parse_range(p.range)
        if rng.whole:
            raise Rejected(f"write_range takes a cell or a block, not whole rows or columns ({p.range})")
        height, width = len(p.values), max(len(r) for r in p.values)
        if rng.start != rng.end and (height > rng.rows or width > rng.cols):
            raise Rejected(
                f"the values ({height} rows x {width} columns) do not fit {p.range} ({rng.rows} x {rng.cols})"
            )
        sid = self._open(ctx, p.spreadsheet)
        tab = self._tab(ctx, rng.sheet)
        self._not_marked_view_only(ctx, sid)
        block = self._prepare(ctx, sid, tab, rng.start, p.values, p.formulas)
        return self._write(ctx, sid, tab, block)

    def append_rows(self, ctx: ActionContext, p: M.AppendParams) -> dict[str, Any]:
        """Rows below the last used row; a retried task writes the same rows again (its memo), never twice."""
        sid = self._open(ctx, p.spreadsheet)
        tab = self._tab(ctx, p.sheet)
        self._not_marked_view_only(ctx, sid)
        start_row = ctx.memo.get("append_row")
        if start_row is None:
            start_row = len(self._read(ctx, sid, tab, None))
            ctx.remember("append_row", start_row)
        try:
            block = self._prepare(ctx, sid, tab, Cell(int(start_row), 0), p.rows, p.formulas)
            if not block.diffs(block.before):
                return {"range": str(block.target), "rows": len(p.rows), "verified": True, "already": True}
            result = self._write(ctx, sid, tab, block)
        except DeadlineExceeded as exc:  # the retry writes the same rows (memo) and repairs them
            raise Retryable(f"append interrupted, to be repaired on retry: {exc}") from None
        return {"range": result["range"], "rows": len(p.rows), "verified": True, "already": False}

    def find(self, ctx: ActionContext, p: M.FindParams) -> dict[str, Any]:
        """Cells containing ``text`` (case-insensitive unless ``match_case``) in one tab or every tab."""
        sid = self._open(ctx, p.spreadsheet)
        names = [p.sheet] if p.sheet else self._tab_names(ctx)
        needle = p.text if p.match_case else p.text.lower()
        matches, searched = [], []
        for name in names:
            tab = self._tab(ctx, name)
            searched.append(tab.name)
            for r, row in enumerate(self._read(ctx, sid, tab, None)):
                for c, value in enumerate(row):
                    plain = value.replace("\u00a0", " ")
                    if needle in (plain if p.match_case else plain.lower()):
                        matches.append(
                            {"sheet": tab.name, "cell": f"{column_name(c)}{r + 1}", "value": value}
                        )
        return {"matches": matches, "sheets": searched}

    def clear_range(self, ctx: ActionContext, p: M.RangeParams) -> dict[str, Any]:
        """Empty a block: the whole range selected and checked before Delete (else cell by cell)."""
        rng = parse_range(p.range)
        sid = self._open(ctx, p.spreadsheet)
        tab = self._tab(ctx, rng.sheet)
        self._not_marked_view_only(ctx, sid)
        if rng.whole:  # A:C or 2:5: the part of it that holds data
            used = self._read(ctx, sid, tab, None)
            bounded = rng.bounded(len(used), max((len(r) for r in used), default=0))
            if bounded is None:
                return {
                    "range": str(Range(tab.name, rng.start, rng.end, rng.whole)),
                    "cleared": 0,
                    "cells": 0,
                }
            rng = bounded
        blank: list[list[Value]] = [[None] * rng.cols for _ in range(rng.rows)]
        block = self._prepare(ctx, sid, tab, rng.start, blank, False)
        filled = [cell for cell, _, _ in block.diffs(block.before)]
        target = str(block.target)
        if filled:
            self._editable_at(ctx, str(rng.start), sid)
            try:
                self._jump(ctx, rng.cells)
                ctx.page.keyboard.press("Delete")
            except LocatorMissing:  # the editor would not select the range: one verified cell at a time
                for cell in filled:
                    self._in_time(ctx, f"clearing {cell}", lambda: self._typed_note(ctx, sid, tab, block))
                    self._jump(ctx, str(cell))
                    ctx.page.keyboard.press("Delete")
            got = self._settled(ctx, sid, tab, block, "")
            if left := [cell for cell, _, _ in block.diffs(got)]:
                raise TaskError(
                    f"cells not cleared: {span_text(left)}; cleared: {span_text(block.changed(got))}"
                )
        return {"range": target, "cleared": len(filled), "cells": rng.rows * rng.cols}
