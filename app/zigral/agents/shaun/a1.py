"""A1 notation: ``Sheet1!B2``, ``'My tab'!A1:D20``, ``C7``, whole columns ``A:C`` and whole rows ``2:5``;
parsed where it enters, with clear errors."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Literal

from zigral.errors import Rejected

_CELL = re.compile(r"^\$?([A-Za-z]{1,3})\$?(\d{1,7})$")
_COLUMN = re.compile(r"^\$?([A-Za-z]{1,3})$")
_ROW = re.compile(r"^\$?(\d{1,7})$")
MAX_ROWS = 10_000_000
MAX_COLS = 18_278  # ZZZ


def column_index(letters: str) -> int:
    index = 0
    for ch in letters.upper():
        index = index * 26 + ord(ch) - 64
    return index - 1


def column_name(index: int) -> str:
    name = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        name = chr(65 + rem) + name
    return name


@dataclass(frozen=True)
class Cell:
    row: int  # 0-based
    col: int  # 0-based

    def __str__(self) -> str:
        return f"{column_name(self.col)}{self.row + 1}"


@dataclass(frozen=True)
class Range:
    sheet: str | None
    start: Cell
    end: Cell
    # "cols" for ``A:C`` (every row), "rows" for ``2:5`` (every column): read up to the sheet's used range.
    whole: Literal["", "cols", "rows"] = ""

    @property
    def cells(self) -> str:
        if self.whole == "cols":
            return f"{column_name(self.start.col)}:{column_name(self.end.col)}"
        if self.whole == "rows":
            return f"{self.start.row + 1}:{self.end.row + 1}"
        return str(self.start) if self.start == self.end else f"{self.start}:{self.end}"

    def bounded(self, used_rows: int, used_cols: int) -> Range | None:
        """This range cut to a sheet whose data spans ``used_rows`` x ``used_cols`` (None: nothing left)."""
        end = Cell(min(self.end.row, used_rows - 1), min(self.end.col, used_cols - 1))
        if end.row < self.start.row or end.col < self.start.col:
            return None
        return replace(self, end=end, whole="")

    @property
    def rows(self) -> int:
        return self.end.row - self.start.row + 1

    @property
    def cols(self) -> int:
        return self.end.col - self.start.col + 1

    def __str__(self) -> str:
        return f"{quote_sheet(self.sheet)}!{self.cells}" if self.sheet else self.cells


def quote_sheet(name: str | None) -> str:
    if name is None:
        return ""
    return name if re.fullmatch(r"[A-Za-z0-9_]+", name) else "'" + name.replace("'", "''") + "'"


def parse_cell(text: str, whole: str) -> Cell:
    m = _CELL.match(text.strip())
    if not m:
        raise Rejected(f"invalid A1 range {whole!r}: {text!r} is not a cell like B2")
    col, row = column_index(m.group(1)), int(m.group(2)) - 1
    if row < 0 or row >= MAX_ROWS or col >= MAX_COLS:
        raise Rejected(f"invalid A1 range {whole!r}: {text!r} is out of bounds")
    return Cell(row, col)


def _whole(first: str, second: str, sheet: str | None, whole: str) -> Range | None:
    """``A:C`` (whole columns) or ``2:5`` (whole rows), else None."""
    a, b = _COLUMN.match(first.strip()), _COLUMN.match(second.strip())
    if a and b:
        left, right = sorted((column_index(a.group(1)), column_index(b.group(1))))
        if right >= MAX_COLS:
            raise Rejected(f"invalid A1 range {whole!r}: column out of bounds")
        return Range(sheet, Cell(0, left), Cell(MAX_ROWS - 1, right), "cols")
    a, b = _ROW.match(first.strip()), _ROW.match(second.strip())
    if a and b:
        top, bottom = sorted((int(a.group(1)) - 1, int(b.group(1)) - 1))
        if top < 0 or bottom >= MAX_ROWS:
            raise Rejected(f"invalid A1 range {whole!r}: row out of bounds")
        return Range(sheet, Cell(top, 0), Cell(bottom, MAX_COLS - 1), "rows")
    return None


def parse_range(text: str) -> Range:
    """``[sheet!]A1[:B2]``, ``A:C`` or ``2:5``; the sheet name may be quoted (``'My tab'!A1``)."""
    whole = text
    sheet: str | None = None
    if "!" in text:
        sheet_part, _, text = text.rpartition("!")
        if sheet_part.startswith("'") and sheet_part.endswith("'") and len(sheet_part) >= 2:
            sheet_part = sheet_part[1:-1].replace("''", "'")
        if not sheet_part:
            raise Rejected(f"invalid A1 range {whole!r}: empty sheet name")
        sheet = sheet_part
    first, sep, second = text.partition(":")
    if sep and (lines := _whole(first, second, sheet, whole)):
        return lines
    start = parse_cell(first, whole)
    end = parse_cell(second, whole) if sep else start
    if end.row < start.row or end.col < start.col:
        start, end = (
            Cell(min(start.row, end.row), min(start.col, end.col)),
            Cell(max(start.row, end.row), max(start.col, end.col)),
        )
    return Range(sheet, start, end)
