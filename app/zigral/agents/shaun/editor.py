"""The Sheets editor's UI steps Shaun takes, each checked: the tabs (activated, gid from the URL), the
CSV export read from the page, Name Box jumps verified before any key that changes cells, the edit probe,
Sheets' protected-cell modal, the paste and the typing; every wait bounded by the deadline's reserve.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from playwright.sync_api import Error as PlaywrightError

from zigral.actions import ActionContext
from zigral.agents.shaun import locators as S
from zigral.agents.shaun.a1 import Cell
from zigral.agents.shaun.settings import ShaunSettings
from zigral.agents.shaun.values import Block, Grid, tsv, typed
from zigral.errors import DeadlineExceeded, TaskError

_FETCH_JS = """async url => {
    const resp = await fetch(url, {credentials: 'include'});  // the export answers 307 to its file server
    return {status: resp.status, url: resp.url, type: resp.headers.get('content-type') || '',
            text: await resp.text()};
}"""
MIN_STEP = 0.5  # seconds above the deadline reserve below which no new UI step starts
_CLIPBOARD_JS = "text => navigator.clipboard.writeText(text).then(() => '', e => String(e))"
_CLIPBOARD_READ_JS = "() => navigator.clipboard.readText().then(t => t, () => null)"
_BOX_JS = "el => [el.value, document.activeElement === el]"


@dataclass(frozen=True)
class Tab:
    name: str
    gid: int | None  # None: the URL showed none; the tab is then read by name (gviz)


class SheetsEditor:
    """Shaun's steps in the editor page (a mixin: Shaun holds the settings)."""

    cfg: ShaunSettings

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
        # The clipboard is the display's, shared with an operator copying in noVNC: what Ctrl+V would paste
        # is read back first, so someone else's copied block never lands (and spreads) from our cell.
        try:
            held = ctx.page.evaluate(_CLIPBOARD_READ_JS)
        except PlaywrightError:
            return False
        if held != tsv(block.rows, block.formulas):
            return False
        ctx.page.keyboard.press("ControlOrMeta+V")
        return True

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
