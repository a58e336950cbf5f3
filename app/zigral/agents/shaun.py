"""Shaun, the Google Sheets agent: reads through the sheet's own CSV export, writes through the real UI, and
proves every write by reading it back.

Every write first checks, touching nothing: the book opens (404: ``not_found``), the tab exists and is
active (its gid from the URL), its export reads, the book is editable (no view-only badge, and a probe
keystroke reaches the formula bar and is cancelled: else ``view_only``). Then the Name Box jumps to the
target, and only once it shows exactly that cell or range does a key that changes cells go out. A block
is pasted as tab-separated text into the verified top-left cell, as a person does; what does not read
back as written is typed cell by cell (each after its own verified jump). Every loop stops
``deadline_reserve`` seconds before the deadline, saves a screenshot, and names exactly the cells it
changed. Values are described in :mod:`zigral.agents.sheets_values`.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from zigral.actions import Action, ActionContext, NoParams
from zigral.agents import sheets_locators as S
from zigral.agents.a1 import Cell, Range, column_name, parse_range
from zigral.agents.base import Agent
from zigral.agents.sheets_params import AppendParams, FindParams, OpenParams, RangeParams, WriteParams
from zigral.agents.sheets_values import Block, Grid, Value, at, span_text, tsv, typed
from zigral.config import Settings
from zigral.errors import DeadlineExceeded, LocatorMissing, Rejected, Retryable, TaskError, first_line

_FETCH_JS = """async url => {
    const resp = await fetch(url, {credentials: 'include'});  // the export answers 307 to its file server
    return {status: resp.status, url: resp.url, type: resp.headers.get('content-type') || '',
            text: await resp.text()};
}"""
MIN_STEP = 0.5  # seconds above the deadline reserve below which no new UI step starts
MAX_READ = 200_000  # cells of one read_range: the whole rectangle is returned, empty cells included
_CLIPBOARD_JS = "text => navigator.clipboard.writeText(text).then(() => '', e => String(e))"
_BOX_JS = "el => [el.value, document.activeElement === el]"


@dataclass(frozen=True)
class Tab:
    name: str
    gid: int | None  # None: the URL showed none; the tab is then read by name (gviz)


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

    @property
    def quota_account(self) -> str:
        """The Google account this VM's browser is signed in to: its commands addressed to it come here."""
        return self.cfg.account

    # ------------------------------------------------------------------ time
    def _left(self, ctx: ActionContext) -> float:
        return ctx.deadline.remaining() - self.cfg.deadline_reserve

    def _ms(self, ctx: ActionContext, cap: float | None = None) -> float:
        """A UI wait: at most ``ui_timeout`` (or ``cap``) seconds, and never into the deadline reserve."""
        self._in_time(ctx, "waiting for the editor")
        return min(cap or self.cfg.ui_timeout, self._left(ctx)) * 1000

    def _in_time(self, ctx: ActionContext, doing: str, done: Callable[[], str] | None = None) -> None:
        """Stop cleanly while there is time left to say so: a screenshot, and (``done``) what was changed."""
        if self._left(ctx) > MIN_STEP:
            return
        note = done() if done is not None else ""
        self._screenshot(ctx, "deadline")
        raise DeadlineExceeded(
            f"stopped {self.cfg.deadline_reserve:g}s before the deadline while {doing}{note}"
        )

    def _screenshot(self, ctx: ActionContext, step: str) -> None:
        """Best effort, inside the reserve (``ctx.capture`` may wait until the deadline itself)."""
        try:
            timeout = max(100.0, (ctx.deadline.remaining() - 0.5) * 1000)
            png = ctx.page.screenshot(timeout=timeout)
            path = ctx.captures.relative(ctx.captures.save("screenshot", ctx.task_id, step, png))
            ctx.saved.append(path)
            ctx.on_capture("screenshot", len(png))
        except (PlaywrightError, OSError):
            pass

    # ------------------------------------------------------------------ the book and its tabs
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

    def _tab_names(self, ctx: ActionContext) -> list[str]:
        names = S.tab_labels(S.tabs(ctx.page))
        if not names:
            raise ctx.missing("tabs", "the spreadsheet shows no sheet tabs")
        return names

    def _tab(self, ctx: ActionContext, name: str | None) -> Tab:
        """The named tab (the first one if None), activated; its gid from the URL."""
        names = self._tab_names(ctx)
        wanted = names[0] if name is None else " ".join(name.split())
        if wanted not in names:
            raise TaskError(f"no tab named {name!r}; tabs: {', '.join(names)}")
        if names.count(wanted) > 1:
            raise TaskError(f"two tabs show as {wanted!r}; name a tab that is unique")
        tab = S.tabs(ctx.page).nth(names.index(wanted))
        before, was = S.url_gid(ctx.page.url), S.tab_selected(tab)
        if was and before is not None:
            return Tab(wanted, before)  # already the active one, and the URL names its gid
        tab.click(timeout=self._ms(ctx))
        end = time.monotonic() + self.cfg.ui_timeout
        selected_at: float | None = None
        while True:
            gid, now = S.url_gid(ctx.page.url), S.tab_selected(tab)
            # The URL's gid is this tab's once it changed with the click, or the tab was already active.
            if gid is not None and now is not False and (gid != before or was or len(names) == 1):
                return Tab(wanted, gid)
            if now and selected_at is None:
                selected_at = time.monotonic()
            if selected_at is not None and time.monotonic() - selected_at > 1.0:
                return Tab(wanted, None)  # active, but the URL names no gid of its own: read by name
            if time.monotonic() > end:
                raise ctx.missing("tab_activation", f"tab {wanted!r} did not become the active one")
            self._in_time(ctx, f"activating tab {wanted!r}")
            ctx.page.wait_for_timeout(25)

    def _read(self, ctx: ActionContext, sid: str, tab: Tab, cells: str | None) -> Grid:
        """Values through the sheet's CSV export (by gid; by name where no gid is known), in the browser."""
        self._in_time(ctx, f"reading tab {tab.name!r}")
        return self._read_now(ctx, sid, tab, cells)

    def _read_now(self, ctx: ActionContext, sid: str, tab: Tab, cells: str | None) -> Grid:
        if tab.gid is not None:
            url = S.export_csv_url(self.cfg.base_url, sid, tab.gid, cells)
        else:
            url = S.gviz_csv_url(self.cfg.base_url, sid, tab.name, cells)
        # Fetched from the editor page itself: same origin and signed-in cookies, as a person would.
        resp = ctx.page.evaluate(_FETCH_JS, url)
        if S.SIGN_IN.search(urlsplit(resp["url"]).path):
            raise TaskError(
                f"not signed in to Google Sheets (the export of tab {tab.name!r} went to sign-in)"
            )
        if resp["status"] != 200 or "csv" not in resp["type"]:
            where = f"{resp['status']} ({resp['type'] or 'no type'})"
            raise TaskError(f"the CSV export of tab {tab.name!r} answered {where}")
        return [row for row in csv.reader(io.StringIO(resp["text"]))]

    # ------------------------------------------------------------------ the selection and edit rights
    def _jump(self, ctx: ActionContext, cells: str, grow: bool = False) -> None:
        """Select ``cells`` through the Name Box; fail, typing nothing, unless it shows exactly that.
        ``grow``: a target below the grid's last row gets Sheets' "Add … more rows at bottom" once."""
        box = S.name_box(ctx.page)
        if not box.count():
            raise ctx.missing("name_box", "the editor shows no Name Box")
        self._refused(ctx)
        box.fill(cells, timeout=self._ms(ctx))
        box.press("Enter", timeout=self._ms(ctx))
        end = time.monotonic() + min(2.0, self.cfg.ui_timeout)
        while True:
            value, focused = box.evaluate(_BOX_JS, timeout=self._ms(ctx))
            showing = str(value).strip().upper()
            if showing == cells.upper() and not focused:  # the jump is done when the grid has the keys
                return
            if time.monotonic() > end:
                add = S.add_rows_button(ctx.page)
                if grow and add.count() == 1:
                    add.click(timeout=self._ms(ctx))
                    return self._jump(ctx, cells)
                raise ctx.missing(
                    "name_box_jump", f"after a jump to {cells} the Name Box shows {showing!r}; nothing typed"
                )
            ctx.page.wait_for_timeout(25)

    def _refused(self, ctx: ActionContext) -> None:
        """Sheets' modal for an edit of protected cells: dismissed, and the write fails saying so."""
        dialog = S.protected_dialog(ctx.page)
        if not dialog.count():
            return
        text = " ".join(dialog.first.inner_text(timeout=self._ms(ctx)).split())
        button = S.dialog_button(dialog.first)
        if button.count():
            button.first.click(timeout=self._ms(ctx))
        else:
            ctx.page.keyboard.press("Escape")
        raise TaskError(f"protected: the editor refused the edit: {text[:300]}")

    def _still_at(self, ctx: ActionContext, cells: str) -> None:
        showing = S.name_box(ctx.page).input_value(timeout=self._ms(ctx)).strip().upper()
        if showing != cells.upper():
            raise ctx.missing(
                "name_box_jump", f"the selection moved to {showing!r} from {cells}; nothing typed"
            )

    def _can_edit(self, ctx: ActionContext) -> str:
        """Why this account cannot edit ("" when it can): a view-only mark on the page, or a probe keystroke
        that opens no edit (an edit it opens is cancelled with Escape)."""
        if S.view_only(ctx.page):
            return "the page marks it view-only"
        bar = S.formula_bar(ctx.page)
        if not bar.count():
            raise ctx.missing("formula_bar", "the editor shows no formula bar")

        def showing() -> str:
            return bar.inner_text(timeout=self._ms(ctx)).replace("\u200b", "").strip()

        before = showing()
        ctx.page.keyboard.type("'")
        end = time.monotonic() + self.cfg.probe_timeout
        editing = False
        while not editing and time.monotonic() < end:
            editing = showing() == "'"
            if not editing:
                ctx.page.wait_for_timeout(25)
        ctx.page.keyboard.press("Escape")
        if editing:
            end = time.monotonic() + self.cfg.probe_timeout
            while showing() != before:
                if time.monotonic() > end:
                    raise TaskError("the probe edit (a single ') could not be cancelled with Escape")
                ctx.page.wait_for_timeout(25)
        return "" if editing else "a probe keystroke opened no edit in the formula bar"

    def _not_marked_view_only(self, ctx: ActionContext, sid: str) -> None:
        """The first, cheap edit-rights check of a write, before any read or key."""
        if S.view_only(ctx.page):
            raise TaskError(
                f"view_only: spreadsheet {sid!r} is view-only for this account (the page marks it)"
            )

    def _editable_at(self, ctx: ActionContext, cells: str, sid: str) -> None:
        """Pre-flight's last step: at the verified top-left cell, the book must take an edit."""
        self._jump(ctx, cells)
        if why := self._can_edit(ctx):
            raise TaskError(
                f"view_only: spreadsheet {sid!r} is view-only for this account ({why}); nothing written"
            )
        self._still_at(ctx, cells)

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

    def _paste(self, ctx: ActionContext, block: Block) -> bool:
        """Put the block on the clipboard as TSV and paste it at the (verified) top-left cell."""
        if not self.cfg.paste:
            return False
        try:
            origin = f"{urlsplit(ctx.page.url).scheme}://{urlsplit(ctx.page.url).netloc}"
            ctx.page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=origin)
            error = ctx.page.evaluate(_CLIPBOARD_JS, tsv(block.rows, block.formulas))
            if error:
                ctx.page.bring_to_front()
                error = ctx.page.evaluate(_CLIPBOARD_JS, tsv(block.rows, block.formulas))
        except PlaywrightError:
            return False
        if error:
            return False
        self._still_at(ctx, str(block.target.start))
        ctx.page.keyboard.press("ControlOrMeta+V")
        return True

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

    def _type_runs(self, ctx: ActionContext, block: Block, cells: list[Cell]) -> None:
        """Each run of adjacent cells of a row after its own verified jump, Tab between, Enter after."""
        values = {
            cell: block.rows[cell.row - block.target.start.row][cell.col - block.target.start.col]
            for cell in cells
        }
        if any("\t" in typed(v, block.formulas) for v in values.values()):
            raise TaskError("a value holds a tab, which only a paste can put in a cell, and the paste failed")
        keyboard = ctx.page.keyboard
        todo = sorted(cells, key=lambda x: (x.row, x.col))
        i = 0
        while i < len(todo):
            run = [todo[i]]
            while i + len(run) < len(todo) and todo[i + len(run)] == Cell(run[-1].row, run[-1].col + 1):
                run.append(todo[i + len(run)])
            self._jump(ctx, str(run[0]))
            for n, cell in enumerate(run):
                self._in_time(ctx, f"typing {cell}")
                text = typed(values[cell], block.formulas)
                if not text:
                    keyboard.press("Delete")
                for k, line in enumerate(text.split("\n")):
                    if k:
                        keyboard.press("Alt+Enter")  # a newline inside the cell
                    if line:
                        keyboard.type(line, delay=self.cfg.keystroke_delay_ms)
                keyboard.press("Tab" if n < len(run) - 1 else "Enter")
            i += len(run)

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

    def open_sheet(self, ctx: ActionContext, p: OpenParams) -> dict[str, Any]:
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

    def read_range(self, ctx: ActionContext, p: RangeParams) -> dict[str, Any]:
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

    def write_range(self, ctx: ActionContext, p: WriteParams) -> dict[str, Any]:
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

    def append_rows(self, ctx: ActionContext, p: AppendParams) -> dict[str, Any]:
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

    def find(self, ctx: ActionContext, p: FindParams) -> dict[str, Any]:
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

    def clear_range(self, ctx: ActionContext, p: RangeParams) -> dict[str, Any]:
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
