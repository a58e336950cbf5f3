from __future__ import annotations

import pytest

from zigral.agents.shaun.a1 import Cell, column_name, parse_range
from zigral.errors import Rejected


def test_a_range_with_a_sheet_parses_to_zero_based_cells() -> None:
    r = parse_range("Sheet1!B2:D20")
    assert (r.sheet, r.start, r.end, r.rows, r.cols) == ("Sheet1", Cell(1, 1), Cell(19, 3), 19, 3)
    assert str(r) == "Sheet1!B2:D20"


def test_quoted_sheet_names_and_single_cells() -> None:
    r = parse_range("'My ''tab'''!c7")
    assert r.sheet == "My 'tab'" and r.cells == "C7" and str(r) == "'My ''tab'''!C7"


def test_column_names_round_trip() -> None:
    assert [column_name(i) for i in (0, 25, 26, 701, 702)] == ["A", "Z", "AA", "ZZ", "AAA"]


@pytest.mark.parametrize("text", ["", "B", "12", "Sheet1!", "!A1", "A1:", "A0", "ABCD1", "A1:B2:C3"])
def test_invalid_ranges_are_rejected_naming_the_input(text: str) -> None:
    with pytest.raises(Rejected, match="invalid A1 range"):
        parse_range(text)


def test_whole_columns_and_whole_rows_parse_and_print_as_written() -> None:
    cols = parse_range("Sheet1!A:C")
    assert (cols.whole, cols.start, cols.end.col, cols.cells) == ("cols", Cell(0, 0), 2, "A:C")
    assert str(cols) == "Sheet1!A:C"
    rows = parse_range("5:2")
    assert (rows.whole, rows.start.row, rows.end.row, rows.cells) == ("rows", 1, 4, "2:5")


def test_a_whole_range_is_bounded_by_the_used_range() -> None:
    assert str(parse_range("S!B:C").bounded(7, 10)) == "S!B1:C7"
    assert str(parse_range("2:5").bounded(3, 4)) == "A2:D3"
    assert parse_range("E:F").bounded(7, 3) is None
    assert parse_range("B2:D4").bounded(10, 10) == parse_range("B2:D4")
