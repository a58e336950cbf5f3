from __future__ import annotations

import pytest

from zigral.agents.shaun.a1 import Cell, Range
from zigral.agents.shaun.values import Block, same, same_value, span_text, tsv, typed


def test_strings_are_typed_as_literal_text_and_formulas_only_when_asked() -> None:
    assert [typed(v, False) for v in ("=1+2", "007", "", None, True, 3, 2.5)] == [
        "'=1+2", "'007", "", "", "TRUE", "3", "2.5",
    ]  # fmt: skip
    assert typed("=1+2", True) == "=1+2"


def test_a_block_pastes_as_tsv_with_quoted_cells_for_tabs_newlines_and_quotes() -> None:
    rows: list[list[str | int | float | bool | None]] = [["a\nb", 'say "hi"', "x\ty"], [None, 4, False]]
    assert tsv(rows, False) == '"\'a\nb"\t"\'say ""hi"""\t"\'x\ty"\n\t4\tFALSE'


def test_edge_spaces_read_back_as_non_breaking_spaces_are_the_same() -> None:
    assert same(" edge  ", "\u00a0edge\u00a0\u00a0") and same("a\nb", "a\r\nb")
    assert not same("edge", " edge")


@pytest.mark.parametrize(
    ("value", "have"),
    [(1 / 3, "0.3333333333"), (0.1 + 0.2, "0.3"), (1.5e20, "1.5E+20"), (1200, "1,200"), (2.0, "2")],
)
def test_numbers_match_as_sheets_displays_them(value: float, have: str) -> None:
    assert same_value(value, repr(value), have)


def test_a_different_number_or_text_does_not_match() -> None:
    assert not same_value(1 / 3, repr(1 / 3), "0.3334")
    assert not same_value("7", "7", "7.0") and not same_value(True, "TRUE", "1")


def test_cells_are_named_as_few_ranges() -> None:
    cells = [Cell(r, c) for r in range(4, 7) for c in range(1, 4)] + [Cell(7, 1), Cell(7, 2)]
    assert span_text(cells) == "B5:D7, B8:C8"
    assert span_text([Cell(0, 0), Cell(0, 2)]) == "A1, C1" and span_text([]) == "none"


def test_a_block_reports_what_differs_and_what_changed() -> None:
    target = Range("S", Cell(0, 0), Cell(1, 1))
    block = Block(target, [["a", 1], ["=A1", None]], True, [["", "1"], ["old", "x"]])
    got = [["a", "1"], ["", "x"]]
    assert [(str(c), w, h) for c, w, h in block.diffs(got)] == [
        ("A2", "the result of =A1", ""),
        ("B2", "", "x"),
    ]
    assert [str(c) for c in block.changed(got)] == ["A1", "A2"]
