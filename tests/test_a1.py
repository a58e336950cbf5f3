from __future__ import annotations

import pytest

from zigral.agents.a1 import Cell, column_name, parse_range
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
