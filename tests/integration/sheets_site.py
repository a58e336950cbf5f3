"""A local copy of the parts of Google Sheets that Shaun uses, backed by data the tests assert on.

The editor page keeps the real one's landmarks: the Name Box ``#t-name-box``, the formula bar
``#t-formula-bar-input``, sheet tabs ``.docs-sheet-tab`` (``id="sheet-button-<gid>"``), the title, and a
"View only" indicator. Its keyboard works like the real editor: typing replaces the active cell, Tab
commits and moves right, Enter commits and moves down, and after a run of Tabs Enter returns to the column
where the run started; Delete clears the selection. Values are interpreted like Sheets does (a leading
``'`` keeps text literal; ``=`` formulas, numbers with leading zeros and ISO dates are reinterpreted).
The CSV export endpoints (``/export?format=csv&gid=…&range=…`` and ``/gviz/tq?tqx=out:csv&sheet=…``)
serve the same data, to a signed-in browser only.
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
from urllib.parse import parse_qs

from .fixture_server import FixtureServer, Request, Response

ROWS, COLS = 40, 12
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

    def __post_init__(self) -> None:
        budget = Spreadsheet("budget1", "Team budget", [Tab(0, "Sheet1"), Tab(1842, "Expenses")])
        budget.tabs[0].raw.update({(0, 0): "Name", (0, 1): "Amount", (1, 0): "Rent", (1, 1): "1200"})
        self.spreadsheets[budget.id] = budget
        locked = Spreadsheet("readonly1", "Published numbers", [Tab(0, "Data")], view_only=True)
        locked.tabs[0].raw.update({(0, 0): "Year", (1, 0): "2025"})
        self.spreadsheets[locked.id] = locked

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
        return "SID" in SimpleCookie(req.headers.get("Cookie", ""))

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

    def _csv(self, tab: Tab, rng: str | None) -> Response:
        top, left, bottom, right = 0, 0, ROWS - 1, COLS - 1
        if rng:
            start, _, end = rng.partition(":")
            top, left = parse_cell(start)
            bottom, right = parse_cell(end or start)
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        rows = [[tab.display(r, c) for c in range(left, right + 1)] for r in range(top, bottom + 1)]
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
        tab = self._sheet(req).tab(gid=int(q.get("gid", ["0"])[0]))
        if tab is None:
            return 400, {"Content-Type": "text/html"}, b"<p>Sorry, unable to open the file at this time.</p>"
        return self._csv(tab, q.get("range", [None])[0])

    def gviz(self, req: Request) -> Response:
        if not self._signed_in(req):
            return 302, {"Location": "/ServiceLogin"}, b""
        q = parse_qs(req.query)
        tab = self._sheet(req).tab(name=q.get("sheet", [""])[0])
        if tab is None:
            return 400, {"Content-Type": "text/plain"}, b"Invalid sheet"
        return self._csv(tab, q.get("range", [None])[0])

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
            f'<div class="docs-sheet-tab" id="sheet-button-{t.gid}" role="button" data-gid="{t.gid}">'
            f'<span class="docs-sheet-tab-name">{html.escape(t.name)}</span></div>'
            for t in sheet.tabs
        )
        data = {t.gid: {f"{r},{c}": t.display(r, c) for (r, c) in t.raw} for t in sheet.tabs}
        header = "".join(f"<th>{col_name(c)}</th>" for c in range(COLS))
        body = "".join(
            f"<tr><th>{r + 1}</th>" + "".join(f'<td id="c{r}_{c}"></td>' for c in range(COLS)) + "</tr>"
            for r in range(ROWS)
        )
        mode = '<div id="docs-access-level-indicator">View only</div>' if sheet.view_only else ""
        page = f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(sheet.title)} - Google Sheets</title>
<style>body{{font-family:Arial,sans-serif;margin:0}} #grid td{{border:1px solid #e2e2e2;width:90px;height:20px;font-size:13px}}
#grid th{{background:#f8f9fa;font-weight:normal;color:#555}} td.active{{outline:2px solid #1a73e8}} td.sel{{background:#e8f0fe}}
#t-name-box{{width:80px}} #t-formula-bar-input{{display:inline-block;min-width:400px;border:1px solid #ccc;padding:2px}}
.docs-sheet-tab{{display:inline-block;padding:4px 12px;border:1px solid #ccc;cursor:pointer}} .docs-sheet-tab.active{{background:#e8f0fe}}</style>
</head><body><div id="docs-header"><input class="docs-title-input" value="{html.escape(sheet.title)}" aria-label="Rename">{mode}</div>
<div id="formula-bar"><input id="t-name-box" aria-label="Name Box" autocomplete="off">
<div id="t-formula-bar-input" role="textbox" aria-label="Formula bar"></div></div>
<div id="grid" tabindex="0" role="grid" aria-label="Grid"><table><tr><th></th>{header}</tr>{body}</table></div>
<div id="tabs" class="docs-sheet-tab-strip">{tabs}</div>
<script>
const VIEW_ONLY = {json.dumps(sheet.view_only)}, DATA = {json.dumps(data)}, COLS = {COLS}, ROWS = {ROWS};
let gid = {sheet.tabs[0].gid}, r = 0, c = 0, sel = null, editing = false, buffer = '', runStart = null;
let chain = Promise.resolve();
const grid = document.getElementById('grid'), nameBox = document.getElementById('t-name-box');
const bar = document.getElementById('t-formula-bar-input');
function colName(i) {{ let s = ''; i += 1; while (i) {{ const m = (i - 1) % 26; s = String.fromCharCode(65 + m) + s; i = Math.floor((i - 1) / 26); }} return s; }}
function cell(rr, cc) {{ return document.getElementById(`c${{rr}}_${{cc}}`); }}
function render() {{
  for (let rr = 0; rr < ROWS; rr++) for (let cc = 0; cc < COLS; cc++) {{
    const td = cell(rr, cc); td.textContent = (DATA[gid][`${{rr}},${{cc}}`] || '');
    td.classList.toggle('active', rr === r && cc === c);
    td.classList.toggle('sel', !!sel && rr >= sel[0] && rr <= sel[2] && cc >= sel[1] && cc <= sel[3]);
  }}
  if (editing) cell(r, c).textContent = buffer;
  nameBox.value = sel ? `${{colName(sel[1])}}${{sel[0] + 1}}:${{colName(sel[3])}}${{sel[2] + 1}}` : `${{colName(c)}}${{r + 1}}`;
  bar.textContent = editing ? buffer : (DATA[gid][`${{r}},${{c}}`] || '');
}}
function save(cells) {{
  if (VIEW_ONLY) return;
  for (const [rr, cc, v] of cells) DATA[gid][`${{rr}},${{cc}}`] = v;
  const g = gid;
  chain = chain.then(() => fetch('cells', {{method: 'POST', body: JSON.stringify({{gid: g, cells}})}}))
    .then(resp => resp.json()).then(shown => {{ for (const [rr, cc, v] of shown) DATA[g][`${{rr}},${{cc}}`] = v; render(); }});
}}
function commit() {{ if (editing) {{ save([[r, c, buffer]]); editing = false; buffer = ''; }} }}
function parseRef(ref) {{
  const m = /^([A-Z]+)(\\d+)$/.exec(ref.trim().toUpperCase()); if (!m) return null;
  let cc = 0; for (const ch of m[1]) cc = cc * 26 + ch.charCodeAt(0) - 64; return [parseInt(m[2]) - 1, cc - 1];
}}
nameBox.addEventListener('keydown', e => {{
  if (e.key !== 'Enter') return; e.preventDefault();
  const [a, b] = nameBox.value.split(':'); const p = parseRef(a), q = b ? parseRef(b) : null;
  if (!p || (b && !q)) {{ nameBox.classList.add('invalid'); return; }}
  commit(); r = p[0]; c = p[1]; runStart = null;
  sel = q ? [Math.min(p[0], q[0]), Math.min(p[1], q[1]), Math.max(p[0], q[0]), Math.max(p[1], q[1])] : null;
  grid.focus(); render();
}});
grid.addEventListener('keydown', e => {{
  if (e.key === 'Tab') {{ e.preventDefault(); commit(); if (runStart === null) runStart = c; c = Math.min(COLS - 1, c + 1); sel = null; }}
  else if (e.key === 'Enter') {{ e.preventDefault(); commit(); r = Math.min(ROWS - 1, r + 1); if (runStart !== null) c = runStart; runStart = null; sel = null; }}
  else if (e.key === 'Escape') {{ editing = false; buffer = ''; }}
  else if (e.key === 'Backspace' && editing) {{ e.preventDefault(); buffer = buffer.slice(0, -1); }}
  else if (e.key === 'Delete' || (e.key === 'Backspace' && !editing)) {{
    e.preventDefault(); const s = sel || [r, c, r, c]; const cells = [];
    for (let rr = s[0]; rr <= s[2]; rr++) for (let cc = s[1]; cc <= s[3]; cc++) cells.push([rr, cc, '']);
    save(cells);
  }}
  else if (e.key.length === 1 && !e.ctrlKey && !e.metaKey && !VIEW_ONLY) {{
    e.preventDefault(); if (!editing) {{ editing = true; buffer = ''; }} buffer += e.key; sel = null;
  }}
  render();
}});
grid.addEventListener('click', e => {{ const td = e.target.closest('td'); if (!td) return;
  commit(); const [rr, cc] = td.id.slice(1).split('_').map(Number); r = rr; c = cc; sel = null; runStart = null; render(); }});
document.querySelectorAll('.docs-sheet-tab').forEach(t => t.addEventListener('click', () => {{
  commit(); gid = Number(t.dataset.gid); r = 0; c = 0; sel = null; runStart = null;
  document.querySelectorAll('.docs-sheet-tab').forEach(x => x.classList.toggle('active', x === t)); render(); }}));
document.querySelector('.docs-sheet-tab').classList.add('active');
window.pendingWrites = () => chain;
render(); grid.focus();
</script></body></html>"""
        return 200, {"Content-Type": "text/html; charset=utf-8"}, page.encode()
