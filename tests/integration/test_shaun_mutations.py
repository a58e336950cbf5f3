"""Every Shaun action against seeded markup mutations of the Sheets fixture (zigral/testing/mutate.py).

Per run the verdict is one of: correct (succeeded, and the fixture's server-side data says the result is
true), a clean failure (a failed status with a message, nothing changed), a wrong success, or an
out-of-range change (a cell of any tab of any book changed outside the action's range, whatever the
status). The last two must never happen; the totals are printed for the report.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from zigral.agents.shaun import Shaun
from zigral.config import load_settings
from zigral.testing.harness import ActionRunner, Run, headless_browser
from zigral.testing.mutate import Mutator, mutating
from zigral.testing.server import FixtureServer, serve

from .sheets_site import SheetsSite, interpret

pytestmark = pytest.mark.integration

SEEDS = list(range(int(os.environ.get("SHAUN_MUTATION_SEEDS", "20"))))
BROKEN = list(range(1000, 1008))  # break_semantics: one meaningful element removed
KEEP = frozenset({"t-name-box", "t-formula-bar-input"})  # the real service's documented landmarks

Cells = set[tuple[str, str, int, int]]  # book, tab, row, col
Oracle = Callable[[dict[str, Any], SheetsSite], bool]


def block(book: str, tab: str, top: int, left: int, rows: int, cols: int) -> Cells:
    return {(book, tab, r, c) for r in range(top, top + rows) for c in range(left, left + cols)}


def shown(
    site: SheetsSite, book: str, tab: str, top: int, left: int, rows: int, cols: int
) -> list[list[str]]:
    t = site.spreadsheets[book].tab(name=tab)
    assert t is not None
    return [[t.display(r, c) for c in range(left, left + cols)] for r in range(top, top + rows)]


def truth_rows(site: SheetsSite, book: str, tab: str) -> list[list[str]]:
    """A tab's used range as the export gives it (edge spaces aside)."""
    t = site.spreadsheets[book].tab(name=tab)
    assert t is not None
    if not t.raw:
        return []
    bottom = max(r for r, _ in t.raw if interpret(t.raw[(r, _)]))
    right = max(c for (_, c) in t.raw if interpret(t.raw[(_, c)]))
    return [[t.display(r, c) for c in range(right + 1)] for r in range(bottom + 1)]


@dataclass
class Case:
    action: str
    params: dict[str, Any]
    allowed: Cells  # cells the action may change
    oracle: Oracle  # is a success true, by the server's data?
    must_fail: str | None = None  # a success is wrong; the failure must say this


def _tabs_ok(result: dict[str, Any], site: SheetsSite, book: str) -> bool:
    truth = [{"name": t.name, "gid": t.gid} for t in site.spreadsheets[book].tabs]
    return bool(result["tabs"]) and all(t in truth for t in result["tabs"])


def _read_ok(result: dict[str, Any], site: SheetsSite, book: str, top: int, left: int) -> bool:
    tab = result["range"].split("!")[0]
    rows = result["rows"]
    want = shown(site, book, tab, top, left, len(rows), len(rows[0]) if rows else 0)
    return bool(rows) and rows == want


def _whole_ok(result: dict[str, Any], site: SheetsSite) -> bool:
    tab = result["range"].split("!")[0]
    return bool(result["rows"]) and result["rows"] == [r[:3] for r in truth_rows(site, "budget1", tab)]


WRITE = [["two\nlines", " edge ", 3], ["'quoted", 2.5, True]]
WRITE_SHOWN = [["two\nlines", " edge ", "3"], ["'quoted", "2.5", "TRUE"]]


def _append_ok(result: dict[str, Any], site: SheetsSite) -> bool:
    row = int(result["range"].split("!A")[1].split(":")[0]) - 1
    return row == 2 and shown(site, "budget1", "Sheet1", row, 0, 1, 2) == [["Water", "40"]]


def _find_ok(result: dict[str, Any], site: SheetsSite) -> bool:
    truth = [{"sheet": "Sheet1", "cell": "A2", "value": "Rent"}]
    return result["matches"] == [m for m in truth if m["sheet"] in result["sheets"]] and bool(
        result["sheets"]
    )


def cases() -> list[Case]:
    nothing: Cells = set()
    return [
        Case(
            "open_sheet",
            {"spreadsheet": "budget1"},
            nothing,
            lambda r, s: r["title"] == "Team budget" and r["can_edit"] is True and _tabs_ok(r, s, "budget1"),
        ),
        Case(
            "open_sheet",
            {"spreadsheet": "readonly1"},
            nothing,
            lambda r, s: r["can_edit"] is False and _tabs_ok(r, s, "readonly1"),
        ),
        Case(
            "read_range",
            {"spreadsheet": "budget1", "range": "Sheet1!A1:B2"},
            nothing,
            lambda r, s: _read_ok(r, s, "budget1", 0, 0),
        ),
        Case("read_range", {"spreadsheet": "budget1", "range": "Sheet1!A:C"}, nothing, _whole_ok),
        Case(
            "write_range",
            {"spreadsheet": "budget1", "range": "Expenses!B3", "values": WRITE},
            block("budget1", "Expenses", 2, 1, 2, 3),
            lambda r, s: (
                r["range"] == "Expenses!B3:D4" and shown(s, "budget1", "Expenses", 2, 1, 2, 3) == WRITE_SHOWN
            ),
        ),
        Case(
            "append_rows",
            {"spreadsheet": "budget1", "sheet": "Sheet1", "rows": [["Water", 40]]},
            block("budget1", "Sheet1", 2, 0, 1, 2),
            _append_ok,
        ),
        Case("find", {"spreadsheet": "budget1", "text": "rent"}, nothing, _find_ok),
        Case(
            "clear_range",
            {"spreadsheet": "budget1", "range": "Expenses!B3:C4"},
            block("budget1", "Expenses", 2, 1, 2, 2),
            lambda r, s: shown(s, "budget1", "Expenses", 2, 1, 2, 2) == [["", ""], ["", ""]],
        ),
        Case(
            "write_range",
            {"spreadsheet": "readonly1", "range": "Data!A1", "values": [["nope"]]},
            nothing,
            lambda r, s: False,
            must_fail="view_only",
        ),
        Case(
            "read_range",
            {"spreadsheet": "gone1", "range": "A1"},
            nothing,
            lambda r, s: False,
            must_fail="not_found",
        ),
    ]


def changed_cells(before: dict[str, Any], after: dict[str, Any]) -> Cells:
    out: Cells = set()
    for book, tabs in after.items():
        for tab, raw in tabs.items():
            old = before[book][tab]
            for key in set(raw) | set(old):
                if raw.get(key) != old.get(key):
                    out.add((book, tab, *key))
    return out


@dataclass
class Tally:
    verdicts: Counter[str] = field(default_factory=Counter)
    bad: list[str] = field(default_factory=list)
    seconds: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)  # clean failures of actions that could have worked

    def judge(self, label: str, case: Case, run: Run, site: SheetsSite, changed: Cells) -> None:
        outside = changed - case.allowed
        if outside:
            self.verdicts["out_of_range"] += 1
            self.bad.append(f"{label}: changed outside its range: {sorted(outside)[:5]} ({run.status})")
        if run.ok:
            if case.must_fail or not case.oracle(run.result, site):
                self.verdicts["wrong_success"] += 1
                self.bad.append(f"{label}: wrong success {run.result}")
            else:
                self.verdicts["correct"] += 1
        elif (
            run.error
            and "internal error" not in run.error
            and (case.must_fail is None or run.error.startswith(case.must_fail) or run.locator)
        ):
            self.verdicts["clean_failure"] += 1
            if case.must_fail is None:
                self.notes.append(f"{label}: {run.status} {run.error}")
        else:
            self.verdicts["unclean_failure"] += 1
            self.bad.append(f"{label}: {run.status} {run.error}")


@pytest.fixture(scope="module")
def harness() -> Iterator[tuple[FixtureServer, ActionRunner]]:
    server = FixtureServer()
    with serve(server), headless_browser() as browser, tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(
            None,
            shaun={
                "base_url": server.base,
                "keystroke_delay_ms": 0,
                "verify_timeout": 5,
                "settle": 0.5,
                "land_timeout": 1,
                "ui_timeout": 2,
            },
        )
        context = browser.new_context()
        context.add_cookies([{"name": "SID", "value": "signed-in", "url": server.base}])
        runner = ActionRunner(
            Shaun(settings),
            context.new_page(),
            Path(tmp),
            allow_private=(server.base.removeprefix("http://"),),
        )
        yield server, runner


def run_seeds(server: FixtureServer, runner: ActionRunner, seeds: list[int], broken: bool) -> Tally:
    tally = Tally()
    for seed in seeds:
        site = SheetsSite()  # fresh data per seed: every oracle starts from the same book
        site.install(server)
        mutator = Mutator(seed, keep_ids=KEEP, break_semantics=broken)
        server.transform = mutating(mutator)
        for case in cases():
            runner.memo.clear()
            before = site.snapshot()
            t0 = time.perf_counter()
            run = runner.run(case.action, timeout=20, **case.params)
            tally.seconds[case.action] += time.perf_counter() - t0
            label = f"seed {seed} {case.action} {case.params.get('range', '')} [{', '.join(mutator.applied)}]"
            tally.judge(label, case, run, site, changed_cells(before, site.snapshot()))
    server.transform = None
    print(f"\nshaun mutations (broken={broken}): {dict(tally.verdicts)}")
    print("\n".join(tally.notes))
    print("seconds per action:", {k: round(v / len(seeds), 2) for k, v in tally.seconds.items()})
    return tally


def test_every_action_on_twenty_mutated_editors_is_right_and_stays_in_its_range(
    harness: tuple[FixtureServer, ActionRunner],
) -> None:
    tally = run_seeds(*harness, SEEDS, broken=False)
    assert not tally.bad, "\n".join(tally.bad)
    # Incidental markup only: the actions must work, bar a rare clean failure (a UI wait on a loaded machine).
    could_work = len(SEEDS) * sum(1 for c in cases() if c.must_fail is None)
    assert tally.verdicts["correct"] >= 0.95 * could_work, "\n".join(tally.notes)


def test_an_editor_missing_a_meaningful_element_never_yields_a_wrong_success_or_a_stray_change(
    harness: tuple[FixtureServer, ActionRunner],
) -> None:
    tally = run_seeds(*harness, BROKEN, broken=True)
    assert not tally.bad, "\n".join(tally.bad)
    assert tally.verdicts["wrong_success"] == tally.verdicts["out_of_range"] == 0
