"""A local copy of the parts of Google Sheets that Shaun uses, backed by data the tests assert on.

The editor page keeps the real one's guarantees and nothing more: the URLs, the Name Box ``#t-name-box``,
the formula bar ``#t-formula-bar-input``, the grid (``role=grid``), sheet tabs (``role=tab`` with their
names, ``aria-selected``; activating one puts ``#gid=<gid>`` in the URL), the page title
"<title> - Google Sheets", and a "View only" badge on a book the user may only view. Its keyboard works
like the real editor: typing replaces the active cell, Tab commits and moves right, Enter commits and moves
down (after a run of Tabs, back to the column where the run started), Alt+Enter is a newline inside the
cell, Escape cancels the edit; Delete clears the selection; Ctrl+Z undoes the last edit; a paste puts
tab-separated text (cells quoted with ``"`` when they hold tabs, newlines or quotes) into the grid from the
active cell. Values are
interpreted like Sheets does (a leading ``'`` keeps text literal; ``=`` formulas, numbers with leading
zeros and ISO dates are reinterpreted). The CSV export endpoints (``/export?format=csv&gid=…&range=…`` and
``/gviz/tq?tqx=out:csv&sheet=…``) serve the same data, to a signed-in browser only, with leading and
trailing spaces as non-breaking spaces like the real export. A book that does not exist answers 404.

The editor's script reaches its elements by literal ids and classes only (zigral/testing/mutate.py's fixture
contract): it builds the grid itself and keeps references to the cells.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import json
import re
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import parse_qs

from zigral.testing.server import FixtureServer, Request, Response

ROWS, COLS = 100, 26  # a new book's grid (Sheets starts with 1000 x 26)
_EDITOR_JS = (Path(__file__).parent / "sheets_editor.js").read_text()
CELL = re.compile(r"^([A-Z]+)(\d+)$")


def col_name(index: int) -> str:
    name = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        name = chr(65 + rem) + name
    return name


def parse_cell(ref: str) -> tuple[int, int]:
    m = CELL.match(ref.upper())
    if not m:
        raise ValueError(ref)
    col = 0
    for ch in m.group(1):
        col = col * 26 + ord(ch) - 64
    return int(m.group(2)) - 1, col - 1


def _spaces(text: str) -> str:
    """Leading and trailing spaces as the real export gives them: non-breaking."""
    stripped = text.strip(" ")
    if not stripped:
        return text.replace(" ", "\u00a0")
    left = len(text) - len(text.lstrip(" "))
    right = len(text) - len(text.rstrip(" "))
    return "\u00a0" * left + stripped + "\u00a0" * right


def interpret(raw: str) -> str:
    """What Sheets displays for typed input."""
    if raw.startswith("'"):
        return raw[1:]
    if raw.startswith("="):
        expr = raw[1:]
        if re.fullmatch(r"[\d+\-*/(). ]+", expr):
            value = eval(expr, {"__builtins__": {}})  # digits and operators only
            return str(int(value)) if float(value).is_integer() else str(value)
        return "#NAME?"
    if re.fullmatch(r"[+-]?\d+(\.\d+)?", raw):
        number = float(raw)
        return str(int(number)) if number.is_integer() else str(number)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
        day = dt.date.fromisoformat(raw)
        return f"{day.month}/{day.day}/{day.year}"
    return raw


@dataclass
class Tab:
    gid: int
    name: str
    raw: dict[tuple[int, int], str] = field(default_factory=dict)

    def display(self, row: int, col: int) -> str:
        return interpret(self.raw.get((row, col), ""))


@dataclass
class Spreadsheet:
    id: str
    title: str
    tabs: list[Tab]
    view_only: bool = False
    rows: int = ROWS
    cols: int = COLS

    def tab(self, gid: int | None = None, name: str | None = None) -> Tab | None:
        for t in self.tabs:
            if (gid is not None and t.gid == gid) or (name is not None and t.name == name):
                return t
        return None


@dataclass
class SheetsSite:
    spreadsheets: dict[str, Spreadsheet] = field(default_factory=dict)
    writes: int = 0
    # True: /ServiceLogin signs the browser in at once (most tests). False: it shows Google's sign-in form,
    # as for a browser whose session is gone; a person (the test) signs in by setting the SID cookie.
    auto_sign_in: bool = True
    # Editor quirks a test turns on: "range_jump_to_a1" (a range typed into the Name Box selects A1),
    # "naive_paste" (pasted text split on every newline and tab, quotes or not).
    quirks: set[str] = field(default_factory=set)
    broken_exports: set[int] = field(default_factory=set)  # gids whose export and gviz answer 500

    def __post_init__(self) -> None:
        budget = Spreadsheet("budget1", "Team budget", [Tab(0, "Sheet1"), Tab(1842, "Expenses")])
        budget.tabs[0].raw.update({(0, 0): "Name", (0, 1): "Amount", (1, 0): "Rent", (1, 1): "1200"})
        self.spreadsheets[budget.id] = budget
        locked = Spreadsheet("readonly1", "Published numbers", [Tab(0, "Data")], view_only=True)
        locked.tabs[0].raw.update({(0, 0): "Year", (1, 0): "2025"})
        self.spreadsheets[locked.id] = locked
        bulk = Spreadsheet("bulk1", "Bulk data", [Tab(0, "Data"), Tab(77, "Notes")], rows=300, cols=60)
        bulk.tabs[1].raw[(0, 0)] = "keep me"
        self.spreadsheets[bulk.id] = bulk

    def snapshot(self) -> dict[str, dict[str, dict[tuple[int, int], str]]]:
        """Every tab's stored input, by book and tab name (to compare before and after an action)."""
        return {sid: {t.name: dict(t.raw) for t in s.tabs} for sid, s in self.spreadsheets.items()}

    def install(self, server: FixtureServer) -> None:
        server.routes["/ServiceLogin"] = self.sign_in
        server.routes["/spreadsheets/u/0/"] = self.home
        for sid in self.spreadsheets:
            base = f"/spreadsheets/d/{sid}"
            server.routes[f"{base}/edit"] = self.editor
            server.routes[f"{base}/export"] = self.export
            server.routes[f"{base}/gviz/tq"] = self.gviz
            server.routes[f"{base}/cells"] = self.api_cells

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _signed_in(req: Request) -> bool:
        cookie = next((v for k, v in req.headers.items() if k.lower() == "cookie"), "")
        return "SID" in SimpleCookie(cookie)

    def _sheet(self, req: Request) -> Spreadsheet:
        return self.spreadsheets[req.path.split("/")[3]]

    def sign_in(self, req: Request) -> Response:
        target = parse_qs(req.query).get("continue", ["/"])[0]
        if self.auto_sign_in:
            return 302, {"Location": target, "Set-Cookie": "SID=signed-in; Path=/"}, b""
        page = """<!doctype html><html><head><title>Sign in - Google Accounts</title></head><body>
<h1 id="headingText">Sign in</h1><form><label for="identifierId">Email or phone</label>
<input type="email" id="identifierId" name="identifier" autocomplete="username">
<button type="button">Next</button></form></body></html>"""
        return 200, {"Content-Type": "text/html; charset=utf-8"}, page.encode()

    def home(self, req: Request) -> Response:
        """The Sheets home: the user's spreadsheets under Google's bar with the account chip."""
        if not self._signed_in(req):
            return 302, {"Location": f"/ServiceLogin?continue={req.path}"}, b""
        items = "".join(
            f'<li><a href="/spreadsheets/d/{sid}/edit">{html.escape(s.title)}</a></li>'
            for sid, s in self.spreadsheets.items()
        )
        page = f"""<!doctype html><html><head><title>Google Sheets</title></head><body>
<header><a role="button" aria-label="Google Account: Test Operator (operator@example.com)" href="#">TO</a></header>
<main><h1>Recent spreadsheets</h1><ul>{items}</ul></main></body></html>"""
        return 200, {"Content-Type": "text/html; charset=utf-8"}, page.encode()

    def _csv(self, sheet: Spreadsheet, tab: Tab, rng: str | None) -> Response:
        if tab.gid in self.broken_exports:
            return 500, {"Content-Type": "text/html"}, b"<p>Server error</p>"
        top, left, bottom, right = 0, 0, sheet.rows - 1, sheet.cols - 1
        if rng:
            start, _, end = rng.partition(":")
            top, left = parse_cell(start)
            bottom, right = parse_cell(end or start)
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        rows = [[_spaces(tab.display(r, c)) for c in range(left, right + 1)] for r in range(top, bottom + 1)]
        if not rng:  # like Sheets: the whole tab exports only up to its last non-empty row and column
            while rows and not any(rows[-1]):
                rows.pop()
            width = max((max((i + 1 for i, v in enumerate(r) if v), default=0) for r in rows), default=0)
            rows = [r[:width] for r in rows]
        writer.writerows(rows)
        return 200, {"Content-Type": "text/csv; charset=utf-8"}, out.getvalue().encode()

    def export(self, req: Request) -> Response:
        if not self._signed_in(req):
            return 302, {"Location": "/ServiceLogin"}, b""
        q = parse_qs(req.query)
        sheet, gid = self._sheet(req), q.get("gid", ["0"])[0]
        tab = sheet.tab(gid=int(gid)) if gid.isdigit() else None
        if tab is None:
            return 400, {"Content-Type": "text/html"}, b"<p>Sorry, unable to open the file at this time.</p>"
        return self._csv(sheet, tab, q.get("range", [None])[0])

    def gviz(self, req: Request) -> Response:
        if not self._signed_in(req):
            return 302, {"Location": "/ServiceLogin"}, b""
        q = parse_qs(req.query)
        sheet = self._sheet(req)
        tab = sheet.tab(name=q.get("sheet", [""])[0])
        if tab is None:
            return 400, {"Content-Type": "text/plain"}, b"Invalid sheet"
        return self._csv(sheet, tab, q.get("range", [None])[0])

    def api_cells(self, req: Request) -> Response:
        sheet = self._sheet(req)
        if sheet.view_only or not self._signed_in(req):
            return 403, {"Content-Type": "application/json"}, b'{"error": "view only"}'
        data = json.loads(req.body)
        tab = sheet.tab(gid=int(data["gid"]))
        assert tab is not None
        for r, c, raw in data["cells"]:
            if raw == "":
                tab.raw.pop((r, c), None)
            else:
                tab.raw[(r, c)] = raw
            self.writes += 1
        shown = [[r, c, tab.display(r, c)] for r, c, _ in data["cells"]]
        return 200, {"Content-Type": "application/json"}, json.dumps(shown).encode()

    # ------------------------------------------------------------------ the editor
    def editor(self, req: Request) -> Response:
        sheet = self._sheet(req)
        if not self._signed_in(req):
            return 302, {"Location": f"/ServiceLogin?continue={req.path}"}, b""
        tabs = "".join(
            f'<div class="docs-sheet-tab" role="tab" aria-selected="false" data-gid="{t.gid}">'
            f'<span class="docs-sheet-tab-name">{html.escape(t.name)}</span></div>'
            for t in sheet.tabs
        )
        data = {t.gid: {f"{r},{c}": t.display(r, c) for (r, c) in t.raw} for t in sheet.tabs}
        raw = {t.gid: {f"{r},{c}": v for (r, c), v in t.raw.items()} for t in sheet.tabs}
        script = (
            _EDITOR_JS.replace("__VIEW_ONLY__", json.dumps(sheet.view_only))
            .replace("__QUIRKS__", json.dumps(sorted(self.quirks)))
            .replace("__DATA__", json.dumps(data).replace("</", "<\\/"))
            .replace("__RAW__", json.dumps(raw).replace("</", "<\\/"))
            .replace("__ROWS__", str(sheet.rows))
            .replace("__COLS__", str(sheet.cols))
        )
        badge = (
            '<div id="docs-access-level-indicator" role="button" aria-label="View only">View only</div>'
            if sheet.view_only
            else '<div id="docs-titlebar-share" role="button" aria-label="Share">Share</div>'
        )
        menus = "".join(
            f'<div class="menu-button" role="menuitem">{m}</div>'
            for m in ("File", "Edit", "View", "Insert", "Format", "Data", "Tools", "Help")
        )
        title = html.escape(sheet.title)
        page = f"""<!doctype html><html><head><meta charset="utf-8"><title>{title} - Google Sheets</title>
<style>body{{font-family:Arial,sans-serif;margin:0}} #grid td{{border:1px solid #e2e2e2;min-width:60px;height:18px;font-size:12px;white-space:pre}}
#grid th{{background:#f8f9fa;font-weight:normal;color:#555}} td.active{{outline:2px solid #1a73e8}} td.sel{{background:#e8f0fe}}
#t-name-box{{width:80px}} #t-formula-bar-input{{display:inline-block;min-width:400px;border:1px solid #ccc;padding:2px;white-space:pre}}
.docs-sheet-tab{{display:inline-block;padding:4px 12px;border:1px solid #ccc;cursor:pointer}} .docs-sheet-active-tab{{background:#e8f0fe}}
.invalid{{outline:2px solid #d93025}} .grid-scroll{{height:420px;overflow:auto}}</style>
</head><body><div id="docs-header"><input class="docs-title-input" value="{title}" aria-label="Rename">{badge}
<div id="docs-menubar" role="menubar" data-shuffle>{menus}</div></div>
<div id="formula-bar"><input id="t-name-box" aria-label="Name Box" autocomplete="off">
<div id="t-formula-bar-input" role="textbox" aria-label="Formula bar"></div></div>
<div class="grid-scroll"><table id="grid" tabindex="0" role="grid" aria-label="Grid"></table></div>
<div class="docs-sheet-tab-strip" role="tablist" aria-label="Sheets">{tabs}</div>
<script>
{script}</script></body></html>"""
        return 200, {"Content-Type": "text/html; charset=utf-8"}, page.encode()
