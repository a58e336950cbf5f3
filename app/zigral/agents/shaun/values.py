"""What Shaun types or pastes for a value, what Sheets should then show, and how to name a set of cells.

Values: JSON strings are written as literal text (a leading ``'``, which Sheets hides, so ``=1+2``, ``007``
or ``2024-01-05`` stay as typed); numbers and booleans as values; with ``formulas: true`` a string that
starts with ``=`` is entered as a formula.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace

from zigral.agents.shaun.a1 import Cell, Range, column_name

Value = str | int | float | bool | None
Grid = list[list[str]]


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


def shown(value: Value, formulas: bool) -> str | None:
    """What Sheets should display for ``value`` (None: a formula, not compared)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if formulas and isinstance(value, str) and value.startswith("="):
        return None
    return str(value)


def tsv(rows: list[list[Value]], formulas: bool) -> str:
    """The block as Sheets reads pasted text: tab-separated, one line a row, a cell that holds a tab, a
    newline or a quote inside ``"…"`` (a quote doubled)."""

    def cell(value: Value) -> str:
        text = typed(value, formulas)
        return '"' + text.replace('"', '""') + '"' if any(ch in text for ch in '\t\n\r"') else text

    return "\n".join("\t".join(cell(v) for v in row) for row in rows)


def same(want: str, have: str) -> bool:
    """Equal as a person reads them: the export gives edge spaces as non-breaking ones, newlines as CRLF."""
    if want == have:
        return True
    return _plain(want) == _plain(have)


def same_value(value: Value, want: str, have: str) -> bool:
    """``have`` shows ``value``: as text, or for a number as Sheets displays it (``0.3333333333``,
    ``1.5E+20``, ``1,200``: the number rounded to the digits shown)."""
    if same(want, have):
        return True
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    text = have.replace(",", "").strip()
    try:
        number = float(text)
    except ValueError:
        return False
    if math.isclose(number, value, rel_tol=1e-12, abs_tol=0.0):
        return True
    digits = len(re.sub(r"[eE].*$", "", text).replace("-", "").replace(".", "").lstrip("0"))
    return digits > 0 and float(f"{float(value):.{digits}g}") == number


def _plain(text: str) -> str:
    return text.replace("\u00a0", " ").replace("\r\n", "\n")


def at(grid: Grid, r: int, c: int) -> str:
    return grid[r][c] if r < len(grid) and c < len(grid[r]) else ""


def span_text(cells: list[Cell]) -> str:
    """Cells as few A1 ranges as rows of runs allow: ``B5:D6, B7``; "none" for none."""
    if not cells:
        return "none"
    runs: dict[int, list[tuple[int, int]]] = {}
    for cell in sorted(set(cells), key=lambda x: (x.row, x.col)):
        row = runs.setdefault(cell.row, [])
        if row and row[-1][1] == cell.col - 1:
            row[-1] = (row[-1][0], cell.col)
        else:
            row.append((cell.col, cell.col))
    blocks: list[tuple[int, int, tuple[tuple[int, int], ...]]] = []  # first row, last row, column runs
    for row_index in sorted(runs):
        shape = tuple(runs[row_index])
        if blocks and blocks[-1][1] == row_index - 1 and blocks[-1][2] == shape:
            blocks[-1] = (blocks[-1][0], row_index, shape)
        else:
            blocks.append((row_index, row_index, shape))
    parts = []
    for top, bottom, shape in blocks:
        for left, right in shape:
            a, b = f"{column_name(left)}{top + 1}", f"{column_name(right)}{bottom + 1}"
            parts.append(a if a == b else f"{a}:{b}")
    return ", ".join(parts)


@dataclass(frozen=True)
class Block:
    """A write: where, what, and what the cells showed before (to name what changed)."""

    target: Range
    rows: list[list[Value]]
    formulas: bool
    before: Grid

    def diffs(self, got: Grid) -> list[tuple[Cell, str, str]]:
        out = []
        for r, row in enumerate(self.rows):
            for c, value in enumerate(row):
                want = shown(value, self.formulas)
                have = at(got, r, c)
                if want is None:  # a formula: its result is not known here, but it must show something
                    if not have.strip() and str(value).strip() not in ('=""', "=''"):
                        out.append((self.cell(r, c), f"the result of {value}", have))
                elif not same_value(value, want, have):
                    out.append((self.cell(r, c), want, have))
        return out

    def changed(self, got: Grid) -> list[Cell]:
        return [
            self.cell(r, c)
            for r, row in enumerate(self.rows)
            for c in range(len(row))
            if not same(at(self.before, r, c), at(got, r, c))
        ]

    def cell(self, r: int, c: int) -> Cell:
        return Cell(self.target.start.row + r, self.target.start.col + c)

    def halo(self) -> Range | None:
        """Where a paste that ignored the quotes of cells holding newlines or tabs would spill."""
        texts = [typed(v, self.formulas) for row in self.rows for v in row]
        down = sum(t.count("\n") + t.count("\r") for t in texts)
        right = sum(t.count("\t") for t in texts)
        if not down and not right:
            return None
        end = self.target.end
        return replace(self.target, end=Cell(end.row + min(down, 1000) + 1, end.col + min(right, 100) + 1))

    def outside(self, halo: Range, before: Grid, now: Grid) -> list[Cell]:
        """Cells of ``halo`` outside the block whose content changed."""
        top, left, end = halo.start.row, halo.start.col, self.target.end
        return [
            Cell(top + r, left + c)
            for r in range(halo.rows)
            for c in range(halo.cols)
            if (top + r > end.row or left + c > end.col) and not same(at(before, r, c), at(now, r, c))
        ]
