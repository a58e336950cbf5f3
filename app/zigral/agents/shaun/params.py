"""Shaun's actions' models: params (a spreadsheet, an A1 range, a block of values, checked on entry) and
results (closed: every field documented)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_validator

from zigral.actions import Params, Result
from zigral.agents.shaun.a1 import parse_range
from zigral.agents.shaun.values import Value
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


class SessionResult(Result):
    logged_in: bool
    account: str | None = Field(None, description="the signed-in Google account's name")


class TabInfo(BaseModel):
    name: str
    gid: int | None = Field(description="from the URL once the tab is active (null: the URL showed none)")


class OpenResult(Result):
    id: str
    title: str
    tabs: list[TabInfo]
    sheet: str = Field(description="the tab now active")
    can_edit: bool = Field(description="no view-only mark, and a probe keystroke opened an edit")


class ReadResult(Result):
    range: str = Field(description="the cells read, A:C and 2:5 cut to the used range")
    rows: list[list[str]] = Field(description="as the export displays them, the whole rectangle")


class WriteResult(Result):
    range: str
    cells: int
    verified: bool = Field(description="read back as written")
    method: Literal["paste", "type", "paste+type"] = Field(description="how the cells were entered")


class AppendResult(Result):
    range: str
    rows: int
    verified: bool
    already: bool = Field(description="a retried task found its rows already written")


class Match(BaseModel):
    sheet: str
    cell: str
    value: str


class FindResult(Result):
    matches: list[Match]
    sheets: list[str] = Field(description="the tabs searched")


class ClearResult(Result):
    range: str
    cleared: int = Field(description="cells that held data and now read empty")
    cells: int = Field(description="cells in the range")
