"""The parameters of Shaun's actions: a spreadsheet, an A1 range, a block of values, checked on entry."""

from __future__ import annotations

from pydantic import Field, field_validator

from zigral.actions import Params
from zigral.agents.a1 import parse_range
from zigral.agents.sheets_values import Value
from zigral.errors import Rejected


class SheetParams(Params):
    spreadsheet: str = Field(min_length=1, max_length=500, description="spreadsheet URL or id")


class OpenParams(SheetParams):
    sheet: str | None = None


class RangeParams(SheetParams):
    range: str = Field(
        min_length=2, max_length=100, description="A1 range, e.g. Sheet1!A1:D20; reads also take A:C, 2:5"
    )

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
