"""An independent Google-Sheets-like editor, written from what the real service publicly guarantees.

It keeps the real Sheets' invariants and nothing of the project's own fixture (tests/integration/
sheets_site.py): the URLs (``/spreadsheets/u/0/``, ``/spreadsheets/d/<id>/edit``, ``#gid=<gid>`` in the
URL once a tab is active, the CSV export and the gviz endpoint), the Name Box ``#t-name-box``, the formula
bar ``#t-formula-bar-input``, tabs at the bottom (no gid in their markup, as in the real DOM), a grid drawn
on a canvas (cell text is not in the DOM), a "View only" book, Google's 404 page for an unknown id, and
sign-in by cookie (signed out: a redirect to ``/ServiceLogin?continue=...``).

The keyboard follows the real editor: typing replaces the active cell; Tab commits and moves right; Enter
commits and moves down to the column where the Tab run started; Enter on a cell that is not being edited
opens it for editing (as Sheets does); Alt/Ctrl+Enter put a newline inside the cell; arrows commit when
the edit began by typing; Delete and Backspace clear the selection; a ``paste`` of text/plain TSV writes a
block from the active cell (quoted fields keep tabs, newlines and doubled quotes; a one-block paste over a
larger selection that is a multiple of it is tiled, as Sheets tiles).

The server holds the truth (:class:`Book`, :class:`Tab`); every commit is POSTed to ``/save`` and values are
interpreted there as Sheets interprets typed input (``'`` literal text, numbers shown in Sheets' Automatic
format, TRUE/FALSE, ``=`` formulas with + - * / ^, cell references and SUM). The exports serve that state,
to a signed-in browser only, and trim trailing empty rows and columns; gviz quotes every field, types a
column by its majority (other values come back empty) and answers an unknown sheet name with the first.

Real-service traps it also keeps: a hidden row (Enter and arrows skip it), a grid of only 20 rows with the
"Add ... more rows at bottom" control, a protected tab (an edit is undone behind a modal dialog), a book
"Comment only", a book this account cannot open ("You need access", 403), an editable book with a tab named
"View only" and one with an apostrophe, a blank-looking ``=""`` formula row, and switches to make the exports
fail, land on the sign-in page, make saves slow, or make the grid ignore paste (typing must then do).
"""

from __future__ import annotations

import ast
import csv
import html
import io
import json
import math
import operator
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, quote

from zigral.testing.server import FixtureServer, Request, Response

COOKIE = "SID"
NAME, EMAIL = "Grace Hopper", "grace.hopper@example.org"
_REF = re.compile(r"\$?([A-Za-z]{1,3})\$?(\d{1,7})")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")


def col_index(letters: str) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n - 1


def col_name(index: int) -> str:
    name, index = "", index + 1
    while index:
        index, rem = divmod(index - 1, 26)
        name = chr(65 + rem) + name
    return name


def number_text(v: float) -> str:
    """Sheets' "Automatic" number format: integers plainly, others to 10 significant digits (=1/3 shows
    0.3333333333, =PI() 3.141592654), exponents as 1.5E+20."""
    if math.isfinite(v) and v == int(v) and abs(v) < 1e15:
        return str(int(v))
    text = f"{v:.10g}"
    if "e" in text:
        mantissa, _, exp = text.partition("e")
        return f"{mantissa}E{exp[0]}{int(exp[1:]):02d}"
    return text


@dataclass
class Cell:
    raw: str  # what was typed (shown in the formula bar)
    value: str | float | bool  # what the cell holds
    display: str  # what the grid and the exports show

    @property
    def kind(self) -> str:
        return "bool" if isinstance(self.value, bool) else "num" if isinstance(self.value, float) else "str"


@dataclass
class Tab:
    name: str
    gid: int
    cells: dict[tuple[int, int], Cell] = field(default_factory=dict)
    rows: int = 1000
    cols: int = 26
    protected: bool = False  # a protected sheet: an edit is refused with Sheets' dialog
    hidden: set[int] = field(default_factory=set)  # hidden rows (0-based): Enter and arrows skip them

    def display(self, r: int, c: int) -> str:
        cell = self.cells.get((r, c))
        return cell.display if cell else ""

    def used(self) -> tuple[int, int]:
        """(rows, cols) of the used range from A1: 0 when the tab is empty."""
        if not self.cells:
            return 0, 0
        return max(r for r, _ in self.cells) + 1, max(c for _, c in self.cells) + 1

    def put(self, r: int, c: int, typed: str | None) -> None:
        if typed is None or typed == "":
            self.cells.pop((r, c), None)
        else:
            self.cells[(r, c)] = self.interpret(typed)
        for (fr, fc), cell in list(self.cells.items()):  # recalculate every formula, as Sheets does
            if cell.raw.startswith("=") and len(cell.raw) > 1:
                self.cells[(fr, fc)] = self.interpret(cell.raw)

    def interpret(self, typed: str) -> Cell:
        if typed.startswith("'"):
            return Cell(typed, typed[1:], typed[1:])
        if re.fullmatch(r'="[^"]*"', typed):  # a formula giving text, such as ="" (blank-looking, yet used)
            return Cell(typed, typed[2:-1], typed[2:-1])
        if typed.startswith("=") and len(typed) > 1:
            try:
                v = self.evaluate(typed[1:])
            except ZeroDivisionError:
                return Cell(typed, "#DIV/0!", "#DIV/0!")
            except (ValueError, SyntaxError, TypeError, KeyError):
                return Cell(typed, "#ERROR!", "#ERROR!")
            return Cell(typed, v, number_text(v))
        bare = typed.strip()
        if bare.upper() in ("TRUE", "FALSE"):
            return Cell(typed, bare.upper() == "TRUE", bare.upper())
        if _NUMBER.match(bare) or _THOUSANDS.match(bare):
            v = float(bare.replace(",", ""))
            return Cell(typed, v, number_text(v))
        return Cell(typed, typed, typed)

    def number(self, r: int, c: int) -> float:
        cell = self.cells.get((r, c))
        if cell is None or isinstance(cell.value, str):
            if cell is not None and cell.value != "":
                raise ValueError("text in arithmetic")
            return 0.0
        return float(cell.value)

    def evaluate(self, expr: str) -> float:
        def total(m: re.Match[str]) -> str:
            s = 0.0
            for part in m.group(1).split(","):
                a, _, b = part.strip().partition(":")
                if not b:
                    s += self.evaluate(a)
                    continue
                (ac, ar), (bc, br) = (_REF.fullmatch(x.strip()).groups() for x in (a, b))  # type: ignore[union-attr]
                for r in range(int(ar) - 1, int(br)):
                    for c in range(col_index(ac), col_index(bc) + 1):
                        cell = self.cells.get((r, c))
                        s += float(cell.value) if cell and not isinstance(cell.value, str) else 0.0
            return repr(s)

        expr = re.sub(r"(?i)\bSUM\(([^()]*)\)", total, expr)
        expr = _REF.sub(lambda m: repr(self.number(int(m.group(2)) - 1, col_index(m.group(1)))), expr)
        return float(_arith(ast.parse(expr.replace("^", "**"), mode="eval").body))


_OPS: dict[type, Callable[..., float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
}


def _arith(node: ast.expr) -> float:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return float(node.value)
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        return _OPS[type(node.op)](_arith(node.left), _arith(node.right))
    if isinstance(node, ast.UnaryOp) and type(node.op) in _OPS:
        return _OPS[type(node.op)](_arith(node.operand))
    raise ValueError("unsupported formula")


@dataclass
class Book:
    id: str
    title: str
    tabs: list[Tab]
    editable: bool = True
    role: str = "View only"  # what the badge of a book this account cannot edit says ("Comment only")

    def tab(self, name: str | None = None, gid: int | None = None) -> Tab | None:
        return next((t for t in self.tabs if t.name == name or t.gid == gid), None)


def _grid(rows: list[list[Any]]) -> dict[tuple[int, int], str]:
    return {(r, c): str(v) for r, row in enumerate(rows) for c, v in enumerate(row) if v != ""}


def default_books() -> dict[str, Book]:
    """Two books: an editable one whose first tab's gid is not 0 and whose second tab's name has a space,
    and a view-only one. Every tab has data around the cells the tests touch."""
    summary = Tab("Summary", 511904)
    raw = Tab("Raw data", 0)
    notes = Tab("Notes", 2077311)
    for tab, rows in (
        (summary, [["Item", "Qty", "Price"], ["Rent", 1, 1200], ["Coffee beans", 3, 12.5], ["Paper", 10, 4]]),
        (raw, [[f"r{r}c{c}" for c in range(8)] for r in range(20)]),
        (notes, [["Note", "Owner"], ["call the bank", "ann"], ["rent is due", "bob"], ["", "", "footnote"]]),
    ):
        for (r, c), typed in _grid(rows).items():
            tab.put(r, c, typed)
    summary.put(5, 0, "Total")
    summary.put(5, 2, "=SUM(C2:C4)")
    raw.put(24, 10, "far away")  # K25: the used range reaches past the block
    raw.hidden.add(6)  # row 7 is hidden (its data stays, the grid skips it)
    raw.put(25, 0, '=""')  # A26: a formula that shows nothing, as =IFERROR(...,"") filled down does
    for r, typed in enumerate(["code", "17", "A-4", "9", "12"]):  # J1:J5, mixed types (gviz drops "A-4")
        raw.put(r, 9, typed)
    review = Tab("Plan", 0)
    review.put(0, 0, "Step")
    prices = Tab("Prices", 0)
    for (r, c), typed in _grid([["Year", "Price"], ["2024", "10"], ["2025", "12"]]).items():
        prices.put(r, c, typed)
    return {
        "q3report": Book("q3report", "Q3 report", [summary, raw, notes]),
        "pricelist": Book("pricelist", "Published prices", [prices], editable=False),
        "tracker": tracker(),
        "1Led-ger_9": ledger(),
        "reviewed": Book("reviewed", "Reviewed plan", [review], editable=False, role="Comment only"),
    }


def ledger() -> Book:
    """A book whose "Log" grid is full (20 rows, every one used: an append needs more rows, which the
    "Add ... more rows at bottom" control gives), and a protected tab."""
    log = Tab("Log", 0, rows=20, cols=6)
    for r in range(20):
        log.put(r, 0, f"2026-01-{r + 1:02d}")
        log.put(r, 1, str(r * 3))
    locked = Tab("Locked", 314, protected=True)
    locked.put(0, 0, "'owner only")
    return Book("1Led-ger_9", "Ledger", [log, locked])


def tracker() -> Book:
    """An editable book whose tab names are traps: one reads "View only", one holds an apostrophe."""
    view, bobs = Tab("View only", 42), Tab("Bob's list", 7)
    for tab, rows in (
        (view, [["Task", "Done"], ["paint", "FALSE"]]),
        (bobs, [["Who", "What"], ["bob", "tea"]]),
    ):
        for (r, c), typed in _grid(rows).items():
            tab.put(r, c, typed)
    return Book("tracker", 'R&D "tracker" <2026>', [view, bobs])


NO_ACCESS = {"private9"}  # books that exist but this account may not open: "You need access"


def parse_a1(text: str, tab: Tab) -> tuple[int, int, int, int] | None:
    """``B2``, ``A1:C3``, ``A:C``, ``2:5`` to (top, left, bottom, right), 0-based inclusive; None if bad."""
    a, sep, b = text.strip().partition(":")
    b = b if sep else a
    ma, mb = _REF.fullmatch(a), _REF.fullmatch(b)
    if ma and mb:
        r0, c0, r1, c1 = int(ma[2]) - 1, col_index(ma[1]), int(mb[2]) - 1, col_index(mb[1])
    elif sep and re.fullmatch(r"[A-Za-z]{1,3}", a) and re.fullmatch(r"[A-Za-z]{1,3}", b):
        r0, c0, r1, c1 = 0, col_index(a), tab.rows - 1, col_index(b)
    elif sep and a.isdigit() and b.isdigit():
        r0, c0, r1, c1 = int(a) - 1, 0, int(b) - 1, tab.cols - 1
    else:
        return None
    r0, r1 = sorted((r0, r1))
    c0, c1 = sorted((c0, c1))
    return (r0, c0, r1, c1) if r0 >= 0 and c0 >= 0 else None


def block(tab: Tab, box: tuple[int, int, int, int] | None) -> list[list[Cell | None]]:
    """The cells of ``box`` (the used range when None), trailing empty rows and columns trimmed as the
    real exports trim them."""
    rows, cols = tab.used()
    r0, c0, r1, c1 = box if box else (0, 0, rows - 1, cols - 1)
    r1, c1 = min(r1, rows - 1), min(c1, cols - 1)
    out = [[tab.cells.get((r, c)) for c in range(c0, c1 + 1)] for r in range(r0, r1 + 1)]
    while out and all(x is None for x in out[-1]):
        out.pop()
    width = max(
        (max((i + 1 for i, x in enumerate(row) if x is not None), default=0) for row in out), default=0
    )
    return [row[:width] for row in out]


class IndependentSheets:
    """The editor's server side: its books, who is signed in, and every save it received."""

    def __init__(self) -> None:
        self.token = secrets.token_hex(8)
        self.books: dict[str, Book] = default_books()
        self.saves: list[tuple[str, int, int, int]] = []  # (book, gid, row, col) of every committed cell
        self.export_status = 200  # set to 500 to make the exports fail
        self.paste = True  # False: the grid ignores paste events (a writer must fall back to typing)
        self.export_signed_out = False  # True: the exports send the browser to the sign-in page
        self.save_delay = 0.0  # seconds each save takes on the server, as a slow network makes it
        self.export_redirect = True  # the export answers 307 first, as docs.google.com does
        self.export_host: str | None = None  # where it sends to (googleusercontent.com); None: this host

    def reset(self) -> None:
        self.books = default_books()
        self.saves.clear()
        self.export_status = 200
        self.paste = True
        self.export_signed_out = False
        self.save_delay = 0.0
        self.export_redirect = True
        self.export_host = None

    def cookie(self, base: str) -> dict[str, Any]:
        return {"name": COOKIE, "value": self.token, "url": base}

    def snapshot(self) -> dict[tuple[str, str], dict[tuple[int, int], str]]:
        return {
            (b.id, t.name): {k: v.display for k, v in t.cells.items()}
            for b in self.books.values()
            for t in b.tabs
        }

    def install(self, server: FixtureServer) -> None:
        server.routes = _Routes(self._dispatch)
        self._base = server.base

    # ------------------------------------------------------------------ routing
    def _signed_in(self, req: Request) -> bool:
        cookies = req.headers.get("Cookie", "") or req.headers.get("cookie", "")
        return any(part.strip() == f"{COOKIE}={self.token}" for part in cookies.split(";"))

    def _dispatch(self, req: Request) -> Response:
        path = req.path
        if path == "/ServiceLogin":
            return self._login(req)
        file = re.fullmatch(r"/export-file/([A-Za-z0-9_-]+)/([0-9a-f]+)", path)
        if file and file[1] in self.books and file[2] == self.token[:6]:  # a signed URL: no cookie needed
            return self._export(self.books[file[1]], req)
        if not self._signed_in(req):
            target = path + ("?" + req.query if req.query else "")
            return 302, {"Location": "/ServiceLogin?continue=" + quote(self._base + target, safe="")}, b""
        if path in ("/spreadsheets/u/0/", "/spreadsheets/"):
            links = "".join(
                f'<li><a href="/spreadsheets/d/{b.id}/edit">{html.escape(b.title)}</a></li>'
                for b in self.books.values()
            )
            body = HOME_HTML.replace("%ACCOUNT%", html.escape(f"Google Account: {NAME} ({EMAIL})"))
            return _html(body.replace("%INITIAL%", NAME[0]).replace("%LINKS%", links))
        m = re.fullmatch(
            r"/spreadsheets(?:/u/\d+)?/d/([A-Za-z0-9_-]+)/(edit|export|gviz/tq|save|htmlview)", path
        )
        if m is None:
            return 404, {"Content-Type": "text/html; charset=utf-8"}, NOT_FOUND_HTML.encode()
        if m[2] in ("export", "gviz/tq") and self.export_signed_out:
            target = quote(self._base + path + "?" + req.query, safe="")
            return 302, {"Location": "/ServiceLogin?continue=" + target}, b""
        if m[1] in NO_ACCESS:
            if m[2] != "edit":
                return 403, {"Content-Type": "text/html"}, b"<html><body>Forbidden</body></html>"
            return 403, {"Content-Type": "text/html; charset=utf-8"}, NO_ACCESS_HTML.encode()
        book = self.books.get(m[1])
        if book is None:
            return 404, {"Content-Type": "text/html; charset=utf-8"}, NOT_FOUND_HTML.encode()
        return {"edit": self._edit, "export": self._export, "gviz/tq": self._gviz, "save": self._save}.get(
            m[2], self._edit
        )(book, req)

    def _login(self, req: Request) -> Response:
        query = parse_qs(req.query)
        target = query.get("continue", [self._base + "/spreadsheets/u/0/"])[0]
        if req.method == "POST":
            cookie = f"{COOKIE}={self.token}; Path=/; HttpOnly"
            return 302, {"Location": target, "Set-Cookie": cookie}, b""
        return _html(LOGIN_HTML.replace("%CONTINUE%", html.escape(target)))

    def _edit(self, book: Book, req: Request) -> Response:
        state = {
            "id": book.id,
            "editable": book.editable,
            "paste": self.paste,
            "tabs": [
                {
                    "name": t.name,
                    "gid": t.gid,
                    "rows": t.rows,
                    "cols": t.cols,
                    "protected": t.protected,
                    "hidden": sorted(t.hidden),
                    "cells": [[r, c, cell.display, cell.raw] for (r, c), cell in t.cells.items()],
                }
                for t in book.tabs
            ],
        }
        mode = (
            ""
            if book.editable
            else (
                '<div class="zq-badge" title="You cannot edit this file">'
                f'<span class="zq-eye" aria-hidden="true"></span>{book.role}</div>'
                '<button class="zq-ask" type="button">Request edit access</button>'
            )
        )
        tabs = "".join(
            f'<div class="zq-sheet" role="tab" aria-selected="false" tabindex="-1">'
            f'<span class="zq-sheet-label">{html.escape(t.name)}</span><i class="zq-caret"></i></div>'
            for t in book.tabs
        )
        body = (
            PAGE_HTML.replace("%TITLE%", html.escape(book.title))
            .replace("%MODE%", mode)
            .replace("%SYNC%", "Saved to Drive" if book.editable else "")
            .replace("%TABS%", tabs)
            .replace("%ACCOUNT%", html.escape(f"Google Account: {NAME} ({EMAIL})"))
            .replace("%INITIAL%", NAME[0])
            .replace("%EDITABLE%", "true" if book.editable else "false")
            .replace("%STATE%", json.dumps(state).replace("</", "<\\/"))
            .replace("%SCRIPT%", EDITOR_JS)
        )
        return _html(body)

    def _save(self, book: Book, req: Request) -> Response:
        if req.method != "POST" or not book.editable:
            return 403, {"Content-Type": "application/json"}, b'{"error": "PERMISSION_DENIED"}'
        time.sleep(self.save_delay)
        payload = json.loads(req.body or b"{}")
        tab = book.tab(gid=int(payload["gid"]))
        if tab is None:
            return 400, {"Content-Type": "application/json"}, b'{"error": "no such grid"}'
        if tab.protected:
            now = [[r, c, tab.display(r, c), tab.cells[(r, c)].raw if (r, c) in tab.cells else ""]
                   for r, c, _ in payload["edits"]]  # fmt: skip
            body = json.dumps({"error": "PROTECTED", "cells": now}).encode()
            return 403, {"Content-Type": "application/json"}, body
        tab.rows += int(payload.get("add_rows", 0))
        for r, c, typed in payload["edits"]:
            tab.put(int(r), int(c), typed)
            self.saves.append((book.id, tab.gid, int(r), int(c)))
        touched = {(int(r), int(c)) for r, c, _ in payload["edits"]}
        touched |= {k for k, v in tab.cells.items() if v.raw.startswith("=")}
        out = [
            [r, c, tab.display(r, c), tab.cells[(r, c)].raw if (r, c) in tab.cells else ""]
            for r, c in touched
        ]
        return 200, {"Content-Type": "application/json"}, json.dumps({"cells": out}).encode()

    def _export(self, book: Book, req: Request) -> Response:
        q = {k: v[0] for k, v in parse_qs(req.query, keep_blank_values=True).items()}
        if self.export_redirect and "ouid" not in q:  # the real export answers 307 to its file server
            signed = f"{req.query}&ouid={self.token[:6]}"
            if self.export_host is None:
                return 307, {"Location": f"{req.path}?{signed}"}, b""
            port = self._base.rpartition(":")[2]
            where = f"http://{self.export_host}:{port}/export-file/{book.id}/{self.token[:6]}?{signed}"
            return 307, {"Location": where}, b""
        if self.export_status != 200:
            return (
                self.export_status,
                {"Content-Type": "text/html"},
                b"<html><body>Server Error</body></html>",
            )
        if q.get("format") != "csv":
            return 400, {"Content-Type": "text/html"}, b"<html><body>Bad Request</body></html>"
        gid = q.get("gid")
        if gid is None:
            tab: Tab | None = book.tabs[0]
        else:
            tab = book.tab(gid=int(gid)) if gid.lstrip("-").isdigit() else None
        box = parse_a1(q["range"], tab) if tab and q.get("range") else None
        if tab is None or (q.get("range") and box is None):
            return 400, {"Content-Type": "text/html"}, b"<html><body>Bad Request</body></html>"
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        for row in block(tab, box):
            writer.writerow([x.display if x else "" for x in row])
        headers = {
            "Content-Type": "text/csv",
            "Content-Disposition": f'attachment; filename="{book.title} - {tab.name}.csv"',
        }
        if req.path.startswith("/export-file/") and req.headers.get("Origin"):
            headers["Access-Control-Allow-Origin"] = req.headers["Origin"]
            headers["Access-Control-Allow-Credentials"] = "true"
        return 200, headers, out.getvalue().encode()

    def _gviz(self, book: Book, req: Request) -> Response:
        """The Visualization API's CSV: every field quoted, a column typed by its majority (values of another
        type come back empty, the service's well-known quirk), an unknown sheet name answered with the
        first sheet (another one)."""
        q = {k: v[0] for k, v in parse_qs(req.query, keep_blank_values=True).items()}
        if self.export_status != 200:
            return (
                self.export_status,
                {"Content-Type": "text/html"},
                b"<html><body>Server Error</body></html>",
            )
        tab = book.tab(name=q.get("sheet")) or (
            book.tab(gid=int(q["gid"])) if q.get("gid", "").isdigit() else None
        )
        tab = tab or book.tabs[0]
        box = parse_a1(q["range"], tab) if q.get("range") else None
        rows = block(tab, box)
        data = rows[1:] if rows and all(x is not None and x.kind == "str" for x in rows[0]) else rows
        for c in range(max((len(r) for r in rows), default=0)):
            kinds = [row[c].kind for row in data if c < len(row) and row[c] is not None]  # type: ignore[union-attr]
            major = max(set(kinds), key=kinds.count) if kinds else "str"
            for row in data:
                if c < len(row) and row[c] is not None and row[c].kind != major:  # type: ignore[union-attr]
                    row[c] = None
        text = "\n".join(
            ",".join('"' + (x.display if x else "").replace('"', '""') + '"' for x in row) for row in rows
        )
        return 200, {"Content-Type": "text/csv; charset=utf-8"}, text.encode()


class _Routes(dict[str, Callable[[Request], Response]]):
    """FixtureServer looks routes up by exact path; this editor answers every path itself."""

    def __init__(self, dispatch: Callable[[Request], Response]) -> None:
        super().__init__()
        self._dispatch = dispatch

    def get(self, key: str, default: Any = None) -> Callable[[Request], Response]:  # type: ignore[override]
        return self._dispatch


def _html(body: str) -> Response:
    return 200, {"Content-Type": "text/html; charset=utf-8"}, body.encode()


# ---------------------------------------------------------------------------------------------- pages
HEAD = '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'

LOGIN_HTML = (
    HEAD + '<title>Sign in - Google Accounts</title></head><body><main class="qz-card">'
    "<h1>Sign in</h1><p>to continue to Sheets</p>"
    '<form method="post" action=""><input type="hidden" name="continue" value="%CONTINUE%">'
    '<label>Email or phone <input type="email" name="identifier" autocomplete="username"></label>'
    '<button type="submit">Next</button></form></main></body></html>'
)

NO_ACCESS_HTML = (
    HEAD + '<title>Google Sheets</title></head><body><main class="qz-card">'
    "<h1>You need access</h1><p>Ask for access, or switch to an account with access.</p>"
    '<textarea aria-label="Message (optional)"></textarea><button type="button">Request access</button>'
    f'<p>You\'re signed in as {EMAIL}</p><a href="#">Switch account</a></main></body></html>'
)

NOT_FOUND_HTML = (
    HEAD + '<title>Page Not Found</title></head><body><div class="qz-err">'
    '<img alt="Google" width="116" height="41"><p><b>404.</b> <ins>That\'s an error.</ins></p>'
    "<p>Sorry, the file you have requested does not exist.</p>"
    "<p>Make sure that you have the correct URL and the file exists.</p></div></body></html>"
)

HOME_HTML = (
    HEAD + "<title>Google Sheets</title></head><body>"
    '<header class="qz-bar"><span class="qz-logo">Sheets</span>'
    '<input type="search" aria-label="Search" placeholder="Search">'
    '<a class="qz-me" href="#" aria-label="%ACCOUNT%"><span>%INITIAL%</span></a></header>'
    '<section class="qz-recent"><h2>Recent spreadsheets</h2><ul>%LINKS%</ul></section></body></html>'
)

PAGE_HTML = (
    HEAD
    + """<title>%TITLE% - Google Sheets</title>
<style>
body { margin: 0; font: 13px Arial, sans-serif; }
.zq-head { display: flex; align-items: center; gap: 12px; padding: 6px 12px; }
.zq-docname { font-size: 18px; border: 1px solid transparent; }
.zq-badge { border: 1px solid #999; border-radius: 12px; padding: 2px 10px; }
.zq-me { margin-left: auto; width: 32px; height: 32px; border-radius: 50%; background: #7b1fa2;
  color: #fff; display: grid; place-items: center; text-decoration: none; }
.zq-line { display: flex; border-top: 1px solid #ddd; border-bottom: 1px solid #ddd; }
#t-name-box { width: 90px; border: 0; border-right: 1px solid #ddd; padding: 4px 8px; }
#t-formula-bar-input { flex: 1; padding: 4px 8px; white-space: pre-wrap; }
.zq-fx { outline: none; min-height: 16px; }
.zq-pane { position: relative; overflow: hidden; height: 560px; }
.zq-box { position: absolute; resize: none; border: 2px solid #1a73e8; padding: 1px 3px; margin: 0;
  font: 13px Arial; box-sizing: border-box; overflow: hidden; opacity: 0; z-index: 2; background: #fff; }
.zq-box.zq-live { opacity: 1; }
.zq-strip { display: flex; gap: 2px; background: #f1f3f4; padding: 2px 8px; }
.zq-sheet { padding: 6px 14px; cursor: pointer; }
.zq-veil { position: fixed; inset: 0; background: rgba(0, 0, 0, 0.3); z-index: 100; }
.zq-veil[hidden] { display: none; }
.zq-dlg { background: #fff; width: 420px; margin: 200px auto; padding: 24px; }
.zq-sheet[aria-selected="true"] { background: #fff; color: #188038; font-weight: bold; }
</style></head><body>
<div class="zq-head"><input class="zq-docname" aria-label="Rename" value="%TITLE%">%MODE%
<span class="zq-sync" role="status" aria-live="polite">%SYNC%</span>
<a class="zq-me" href="#" aria-label="%ACCOUNT%">%INITIAL%</a></div>
<div class="zq-menus" role="menubar"><span role="menuitem">File</span> <span role="menuitem">Edit</span>
<span role="menuitem">View</span> <span role="menuitem">Insert</span> <span role="menuitem">Format</span>
<span role="menuitem">Data</span> <span role="menuitem">Tools</span> <span role="menuitem">Help</span></div>
<div class="zq-line"><input id="t-name-box" aria-label="Name Box" autocomplete="off" spellcheck="false">
<div id="t-formula-bar-input"><div class="zq-fx" contenteditable="%EDITABLE%" role="textbox"></div></div>
</div>
<div class="zq-pane"><canvas class="zq-canvas" width="1100" height="560"></canvas>
<textarea class="zq-box" spellcheck="false" wrap="off" autocomplete="off"></textarea></div>
<div class="zq-more"><button type="button" class="zq-add">Add</button>
<input class="zq-add-n" value="1000" aria-label="Number of rows to add"> more rows at bottom</div>
<div class="zq-veil" hidden><div class="zq-dlg" role="dialog" aria-modal="true" aria-label="Protected cell">
<p>You are trying to edit a protected cell or object. Please contact the spreadsheet owner to remove
protection if you need to edit.</p><button type="button" class="zq-ok">OK</button></div></div>
<div class="zq-strip" role="tablist">%TABS%</div>
<script type="application/json" class="zq-boot">%STATE%</script>
<script>%SCRIPT%</script></body></html>"""
)

EDITOR_JS = r"""
(() => {
  const boot = JSON.parse(document.querySelector(".zq-boot").textContent);
  const editable = boot.editable;
  const tabs = boot.tabs.map(t => ({
    name: t.name, gid: t.gid, rows: t.rows, cols: t.cols, view: null, hidden: new Set(t.hidden),
    cells: new Map(t.cells.map(([r, c, d, raw]) => [r + "," + c, { d, raw }])),
  }));
  const canvas = document.querySelector(".zq-canvas");
  const g = canvas.getContext("2d");
  const box = document.querySelector(".zq-box");
  const nameBox = document.getElementById("t-name-box");
  const bar = document.querySelector(".zq-fx");
  const strip = [...document.querySelectorAll(".zq-sheet")];
  const CW = 100, RH = 21, HW = 46, HH = 24;
  let cur = 0, act = { r: 0, c: 0 }, sel = { r0: 0, c0: 0, r1: 0, c1: 0 }, top = 0, left = 0;
  let editing = null;  // null, "enter" (began by typing), "edit" (Enter/F2), "bar" (formula bar)
  let runCol = null;  // the column where a run of Tabs began: Enter returns there
  let chain = Promise.resolve();
  box.readOnly = !editable;

  const colName = i => {
    let s = "";
    for (i += 1; i; i = Math.floor((i - 1) / 26)) s = String.fromCharCode(65 + (i - 1) % 26) + s;
    return s;
  };
  const colIndex = s => [...s.toUpperCase()].reduce((n, ch) => n * 26 + ch.charCodeAt(0) - 64, 0) - 1;
  const tab = () => tabs[cur];
  const clamp = (v, lo, hi) => Math.max(lo, Math.min(hi, v));
  const REF = /^\$?([A-Za-z]{1,3})\$?(\d{1,7})$/;

  function parseA1(text, t) {
    const [a, b = a, extra] = text.trim().split(":");
    if (extra !== undefined) return null;
    let r0, c0, r1, c1, ma = REF.exec(a), mb = REF.exec(b);
    if (ma && mb) [r0, c0, r1, c1] = [+ma[2] - 1, colIndex(ma[1]), +mb[2] - 1, colIndex(mb[1])];
    else if (/^[A-Za-z]{1,3}$/.test(a) && /^[A-Za-z]{1,3}$/.test(b) && text.includes(":"))
      [r0, c0, r1, c1] = [0, colIndex(a), t.rows - 1, colIndex(b)];
    else if (/^\d+$/.test(a) && /^\d+$/.test(b) && text.includes(":"))
      [r0, c0, r1, c1] = [+a - 1, 0, +b - 1, t.cols - 1];
    else return null;
    if (Math.min(r0, r1) < 0 || Math.max(r0, r1) >= t.rows || Math.max(c0, c1) >= t.cols) return null;
    return [Math.min(r0, r1), Math.min(c0, c1), Math.max(r0, r1), Math.max(c0, c1)];
  }

  function label() {
    const t = tab();
    if (sel.r0 === 0 && sel.r1 === t.rows - 1) return colName(sel.c0) + ":" + colName(sel.c1);
    if (sel.c0 === 0 && sel.c1 === t.cols - 1 && sel.r0 !== sel.r1) return (sel.r0 + 1) + ":" + (sel.r1 + 1);
    const a = colName(sel.c0) + (sel.r0 + 1), b = colName(sel.c1) + (sel.r1 + 1);
    return a === b ? a : a + ":" + b;
  }

  function shown(n) {  // the first n rows drawn from the top one, hidden rows skipped
    const out = [];
    for (let r = top; out.length < n && r < tab().rows; r++) if (!tab().hidden.has(r)) out.push(r);
    return out;
  }
  const NR = Math.ceil((560 - HH) / RH);
  function step(r, d) {  // the next row that is not hidden, as Enter and the arrows move
    let n = r + d;
    while (n >= 0 && n < tab().rows && tab().hidden.has(n)) n += d;
    return n < 0 || n >= tab().rows ? r : n;
  }

  function draw() {
    const W = canvas.width, H = canvas.height, t = tab();
    const nr = Math.ceil((H - HH) / RH), nc = Math.ceil((W - HW) / CW), vis = shown(nr);
    g.clearRect(0, 0, W, H);
    g.font = "13px Arial";
    g.textBaseline = "middle";
    g.fillStyle = "rgba(26,115,232,0.12)";
    vis.forEach((r, i) => {
      const wide = (sel.c1 - sel.c0 + 1) * CW;
      if (r >= sel.r0 && r <= sel.r1) g.fillRect(HW + (sel.c0 - left) * CW, HH + i * RH, wide, RH);
    });
    g.fillStyle = "#f8f9fa";
    g.fillRect(0, 0, W, HH);
    g.fillRect(0, 0, HW, H);
    g.strokeStyle = "#e2e3e3";
    const line = (x0, y0, x1, y1) => { g.beginPath(); g.moveTo(x0, y0); g.lineTo(x1, y1); g.stroke(); };
    for (let i = 0; i <= nr; i++) line(0, HH + i * RH, W, HH + i * RH);
    for (let j = 0; j <= nc; j++) line(HW + j * CW, 0, HW + j * CW, H);
    g.fillStyle = "#5f6368";
    for (let j = 0; j < nc; j++) g.fillText(colName(left + j), HW + j * CW + CW / 2 - 4, HH / 2);
    vis.forEach((r, i) => g.fillText(String(r + 1), 8, HH + i * RH + RH / 2));
    g.fillStyle = "#202124";
    for (let i = 0; i < vis.length; i++) for (let j = 0; j < nc; j++) {
      const x = t.cells.get(vis[i] + "," + (left + j));
      if (!x) continue;
      g.save();
      g.beginPath();
      g.rect(HW + j * CW, HH + i * RH, CW, RH);
      g.clip();
      g.fillText(x.d.split("\n")[0], HW + j * CW + 4, HH + i * RH + RH / 2);
      g.restore();
    }
    g.strokeStyle = "#1a73e8";
    g.lineWidth = 2;
    if (vis.includes(act.r)) g.strokeRect(HW + (act.c - left) * CW, HH + vis.indexOf(act.r) * RH, CW, RH);
    g.lineWidth = 1;
  }

  function refresh() {
    const vr = Math.floor((canvas.height - HH) / RH) - 1, vc = Math.floor((canvas.width - HW) / CW) - 1;
    if (act.r < top || !shown(vr).includes(act.r)) top = Math.max(0, act.r - Math.floor(vr / 2));
    if (act.c < left) left = act.c;
    if (act.c >= left + vc) left = act.c - vc + 1;
    const at = shown(vr + 1).indexOf(act.r);
    box.style.left = HW + (act.c - left) * CW + "px";
    box.style.top = (at < 0 ? -100 : HH + at * RH) + "px";
    box.style.width = CW + 1 + "px";
    box.style.height = RH + 1 + "px";
    if (document.activeElement !== nameBox) nameBox.value = label();
    const x = tab().cells.get(act.r + "," + act.c);
    if (editing !== "bar") bar.textContent = editing ? box.value : x ? x.raw : "";
    draw();
  }

  function select(r0, c0, r1, c1, ar = r0, ac = c0) {
    sel = { r0: Math.min(r0, r1), c0: Math.min(c0, c1), r1: Math.max(r0, r1), c1: Math.max(c0, c1) };
    act = { r: ar, c: ac };
    box.value = "";
    refresh();
  }
  function moveTo(r, c) {
    r = clamp(r, 0, tab().rows - 1);
    c = clamp(c, 0, tab().cols - 1);
    select(r, c, r, c);
  }

  function send(edits) {  // [[row, col, typed or null]]: optimistic here, the truth comes back from /save
    const t = tab();
    for (const [r, c, v] of edits) {
      if (v === null || v === "") t.cells.delete(r + "," + c);
      else t.cells.set(r + "," + c, { d: v.startsWith("'") ? v.slice(1) : v, raw: v });
    }
    draw();
    const body = JSON.stringify({ gid: t.gid, edits });
    saving(1);
    chain = chain
      .then(() => fetch("save", { method: "POST", headers: { "Content-Type": "application/json" }, body }))
      .then(res => (res.ok || res.status === 403 ? res.json() : null))
      .then(data => {
        if (!data) return;
        if (data.error === "PROTECTED") warn();
        for (const [r, c, d, raw] of data.cells) {
          if (raw === "") t.cells.delete(r + "," + c);
          else t.cells.set(r + "," + c, { d, raw });
        }
        draw();
      })
      .catch(() => {})
      .finally(() => saving(-1));
  }
  let pending = 0;
  function saving(d) {  // Sheets' save status: "Saving…" while edits are on their way
    pending += d;
    document.querySelector(".zq-sync").textContent = pending ? "Saving…" : "Saved to Drive";
  }

  const veil = document.querySelector(".zq-veil");
  const ok = document.querySelector(".zq-ok");
  function warn() {  // Sheets' modal: the edit is undone, keys go to the dialog until it is closed
    veil.hidden = false;
    ok.focus();
  }
  function unwarn() {
    veil.hidden = true;
    box.focus();
  }
  ok.addEventListener("click", unwarn);
  veil.addEventListener("keydown", e => {
    if (e.key === "Escape" || e.key === "Enter") { e.preventDefault(); unwarn(); }
  });
  document.querySelector(".zq-add").addEventListener("click", () => {
    const n = parseInt(document.querySelector(".zq-add-n").value, 10);
    if (!(n > 0) || !editable) return;
    tab().rows += n;
    const body = JSON.stringify({ gid: tab().gid, edits: [], add_rows: n });
    const init = { method: "POST", headers: { "Content-Type": "application/json" }, body };
    saving(1);
    chain = chain.then(() => fetch("save", init)).finally(() => saving(-1));
    draw();
  });

  function begin(mode, initial) {
    editing = mode;
    box.classList.add("zq-live");
    box.value = initial;
    box.setSelectionRange(initial.length, initial.length);
    bar.textContent = initial;
  }
  function finish() {
    editing = null;
    box.classList.remove("zq-live");
    box.value = "";
  }
  function commit() {
    const text = editing === "bar" ? bar.innerText.replace(/\u00a0/g, " ").replace(/\n$/, "") : box.value;
    finish();
    send([[act.r, act.c, text]]);
  }
  function cancel() {
    finish();
    refresh();
  }

  function arrow(k, extend) {
    const [dr, dc] = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] }[k];
    runCol = null;
    if (!extend) return moveTo(dr ? step(act.r, dr) : act.r, act.c + dc);
    const fr = clamp((sel.r0 === act.r ? sel.r1 : sel.r0) + dr, 0, tab().rows - 1);
    const fc = clamp((sel.c0 === act.c ? sel.c1 : sel.c0) + dc, 0, tab().cols - 1);
    select(act.r, act.c, fr, fc, act.r, act.c);
  }

  function tabKey(shift) {
    if (shift) return moveTo(act.r, act.c - 1);
    if (runCol === null) runCol = act.c;
    const keep = runCol;
    moveTo(act.r, act.c + 1);
    runCol = keep;
  }
  function enterKey(shift) {
    const c = shift ? act.c : runCol ?? act.c;
    runCol = null;
    moveTo(step(act.r, shift ? -1 : 1), c);
  }

  function clearSelection() {
    const edits = [];
    for (const key of tab().cells.keys()) {
      const [r, c] = key.split(",").map(Number);
      if (r >= sel.r0 && r <= sel.r1 && c >= sel.c0 && c <= sel.c1) edits.push([r, c, null]);
    }
    if (edits.length) send(edits);
    refresh();
  }

  box.addEventListener("keydown", e => {
    if (e.isComposing) return;
    const k = e.key, mod = e.ctrlKey || e.metaKey;
    if (editing) {
      if (k === "Enter" && (e.altKey || mod)) {
        e.preventDefault();
        box.setRangeText("\n", box.selectionStart, box.selectionEnd, "end");
        bar.textContent = box.value;
      } else if (k === "Tab") {
        e.preventDefault();
        commit();
        tabKey(e.shiftKey);
      } else if (k === "Enter") {
        e.preventDefault();
        commit();
        enterKey(e.shiftKey);
      } else if (k === "Escape") {
        e.preventDefault();
        cancel();
      } else if (editing === "enter" && k.startsWith("Arrow")) {
        e.preventDefault();
        commit();
        arrow(k, false);
      }
      return;
    }
    if (k === "Tab") {
      e.preventDefault();
      tabKey(e.shiftKey);
    } else if (k === "Enter") {
      e.preventDefault();
      if (!editable || e.shiftKey) return enterKey(e.shiftKey);
      const x = tab().cells.get(act.r + "," + act.c);
      begin("edit", x ? x.raw : "");  // Sheets: Enter on a cell opens it for editing
    } else if (k === "F2" && editable) {
      e.preventDefault();
      const x = tab().cells.get(act.r + "," + act.c);
      begin("edit", x ? x.raw : "");
    } else if (k.startsWith("Arrow")) {
      e.preventDefault();
      arrow(k, e.shiftKey);
    } else if (k === "Delete" || k === "Backspace") {
      e.preventDefault();
      if (editable) clearSelection();
    } else if (k.length === 1 && !mod && !e.altKey) {
      if (!editable) return e.preventDefault();
      begin("enter", "");
    }
  });
  box.addEventListener("beforeinput", e => { if (!editable) e.preventDefault(); });
  box.addEventListener("input", () => {
    if (!editable) return;
    if (!editing) {
      editing = "enter";
      box.classList.add("zq-live");
    }
    bar.textContent = box.value;
  });

  function parseTsv(text) {
    const t = text.replace(/\r\n?/g, "\n"), rows = [];
    let row = [], i = 0;
    for (;;) {
      let field = null;
      if (t[i] === '"') {
        let j = i + 1, buf = "", closed = false;
        while (j < t.length) {
          if (t[j] === '"') {
            if (t[j + 1] === '"') { buf += '"'; j += 2; continue; }
            closed = j + 1 === t.length || t[j + 1] === "\t" || t[j + 1] === "\n";
            break;
          }
          buf += t[j++];
        }
        if (closed) { field = buf; i = j + 1; }
      }
      if (field === null) {
        let j = i;
        while (j < t.length && t[j] !== "\t" && t[j] !== "\n") j++;
        field = t.slice(i, j);
        i = j;
      }
      row.push(field);
      if (i >= t.length) { rows.push(row); break; }
      if (t[i] === "\t") { i++; continue; }
      rows.push(row);
      row = [];
      if (++i >= t.length) break;  // a trailing newline ends the block
    }
    return rows;
  }

  document.addEventListener("paste", e => {
    if (e.target === nameBox || bar.contains(e.target) || editing) return;
    e.preventDefault();
    if (!editable || !boot.paste) return;
    const text = e.clipboardData ? e.clipboardData.getData("text/plain") : "";
    if (!text) return;
    const rows = parseTsv(text), t = tab();
    const h = rows.length, w = Math.max(...rows.map(r => r.length));
    const sh = sel.r1 - sel.r0 + 1, sw = sel.c1 - sel.c0 + 1;
    const tile = (sh > 1 || sw > 1) && sh % h === 0 && sw % w === 0;
    const th = tile ? sh : h, tw = tile ? sw : w, edits = [];
    for (let i = 0; i < th; i++) for (let j = 0; j < tw; j++) {
      const src = rows[i % h];
      if (j % w < src.length) edits.push([sel.r0 + i, sel.c0 + j, src[j % w]]);
    }
    t.rows = Math.max(t.rows, sel.r0 + th);
    t.cols = Math.max(t.cols, sel.c0 + tw);
    runCol = null;
    send(edits);
    select(sel.r0, sel.c0, sel.r0 + th - 1, sel.c0 + tw - 1);
  }, true);

  function go(text) {
    let ref = text.trim(), target = cur;
    const bang = ref.lastIndexOf("!");
    if (bang >= 0) {
      let name = ref.slice(0, bang);
      if (name.length >= 2 && name.startsWith("'") && name.endsWith("'"))
        name = name.slice(1, -1).replace(/''/g, "'");
      target = tabs.findIndex(x => x.name.toLowerCase() === name.toLowerCase());
      ref = ref.slice(bang + 1);
      if (target < 0) return false;
    }
    const found = parseA1(ref, tabs[target]);
    if (!found) return false;
    if (target !== cur) activate(target);
    runCol = null;
    select(...found);
    return true;
  }

  nameBox.addEventListener("focus", () => {
    if (editing) commit();
    nameBox.select();
  });
  nameBox.addEventListener("keydown", e => {
    if (e.key !== "Enter" && e.key !== "Escape") return;
    e.preventDefault();
    if (e.key === "Enter") go(nameBox.value);
    box.focus();
    refresh();
  });

  bar.addEventListener("input", () => { if (editable) editing = "bar"; });
  bar.addEventListener("keydown", e => {
    if (!editable) {
      if (e.key.length === 1 || e.key === "Enter") e.preventDefault();
      return;
    }
    if (e.key === "Enter" && !(e.altKey || e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      editing = "bar";
      commit();
      enterKey(false);
      box.focus();
    } else if (e.key === "Tab") {
      e.preventDefault();
      editing = "bar";
      commit();
      tabKey(e.shiftKey);
      box.focus();
    } else if (e.key === "Escape") {
      e.preventDefault();
      cancel();
      box.focus();
    }
  });

  canvas.addEventListener("mousedown", e => {
    e.preventDefault();
    const rect = canvas.getBoundingClientRect();
    const x = e.clientX - rect.left - HW, y = e.clientY - rect.top - HH;
    if (x < 0 || y < 0) return;
    if (editing) commit();
    runCol = null;
    const r = shown(NR)[Math.floor(y / RH)] ?? top, c = left + Math.floor(x / CW);
    if (e.shiftKey) select(act.r, act.c, r, c, act.r, act.c);
    else moveTo(r, c);
    box.focus();
  });

  function activate(i) {
    tab().view = { sel, act, top, left };
    cur = i;
    const v = tabs[i].view || { sel: { r0: 0, c0: 0, r1: 0, c1: 0 }, act: { r: 0, c: 0 }, top: 0, left: 0 };
    ({ sel, act, top, left } = v);
    strip.forEach((el, j) => el.setAttribute("aria-selected", String(j === i)));
    const gid = tabs[i].gid;
    history.replaceState(null, "", location.pathname + "?gid=" + gid + "#gid=" + gid);
    runCol = null;
    box.value = "";
    refresh();
  }
  strip.forEach((el, i) => el.addEventListener("click", () => {
    if (editing) commit();
    if (i !== cur) activate(i);
    box.focus();
  }));

  function fromUrl() {
    const m = /gid=(\d+)/.exec(location.hash) || /gid=(\d+)/.exec(location.search);
    const i = m ? tabs.findIndex(t => String(t.gid) === m[1]) : -1;
    return i < 0 ? 0 : i;
  }
  window.addEventListener("hashchange", () => {
    const i = fromUrl();
    if (i !== cur) activate(i);
  });
  cur = fromUrl();
  activate(cur);
  box.focus();
})();
"""
