"""Every Lincoln action against seeded markup mutations of the fixture LinkedIn (zigral/testing/mutate.py).

Semantics-keeping seeds: each run returns the right answer (the fixture's data model) or fails with a
locator error; never a success with a wrong result. Semantics-breaking seeds (one element with a role or
an accessible name removed): zero wrong successes, and the misses are seen. One headless Chromium for the
module, actions run straight through the harness (no stack): a few hundred runs in about a minute.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import Page

from zigral.agents.lincoln import Lincoln
from zigral.config import load_settings
from zigral.testing.harness import ActionRunner, Run, headless_browser
from zigral.testing.mutate import Mutator, mutating
from zigral.testing.server import FixtureServer, serve

from .linkedin_site import KEEP_IDS, LinkedInSite

pytestmark = pytest.mark.integration

SEEDS = range(1, 21)  # 20 semantics-keeping seeds per action
BREAK_SEEDS = range(1000, 1020)  # 20 semantics-breaking seeds per action
TOKEN = "mutation-session"
STATS: dict[str, Counter[str]] = {}


@dataclass
class Bench:
    server: FixtureServer
    page: Page
    runner: ActionRunner
    site: LinkedInSite
    mutator: Mutator

    def fresh(self, seed: int, break_semantics: bool = False, signed_in: bool = True) -> LinkedInSite:
        """A new site state behind the same server, served through the seed's mutations."""
        self.site = LinkedInSite()
        self.site.install(self.server)
        self.mutator = Mutator(seed, keep_ids=KEEP_IDS, break_semantics=break_semantics)
        self.server.transform = mutating(self.mutator)
        context = self.page.context
        context.clear_cookies()
        if signed_in:
            self.site.sessions.add(TOKEN)
            context.add_cookies([{"name": "li_at", "value": TOKEN, "url": self.server.base}])
        return self.site


@pytest.fixture(scope="module", autouse=True)
def pass_rates() -> Iterator[None]:
    """Prints the pass rates of the module's runs at its end (``pytest -s`` shows them)."""
    yield
    lines = [f"{'action':32} runs correct clean_fail wrong unclear misses_seen"]
    for name, c in STATS.items():
        runs = sum(c[k] for k in ("correct", "clean_failure", "wrong_success", "unclear_failure"))
        lines.append(
            f"{name:32} {runs:4} {c['correct']:7} {c['clean_failure']:10} {c['wrong_success']:5}"
            f" {c['unclear_failure']:7} {c['misses_seen']:11}"
        )
    print("\n" + "\n".join(lines))


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bench]:
    tmp = tmp_path_factory.mktemp("lincoln-mutations")
    creds = tmp / "linkedin.json"
    creds.write_text(json.dumps({"username": LinkedInSite.username, "password": LinkedInSite.password}))
    server = FixtureServer()
    with serve(server), headless_browser() as browser:
        settings = load_settings(
            None,
            lincoln={
                "base_url": server.base,
                "credentials_file": str(creds),
                "pause_min": 0,
                "pause_max": 0,
                "keystroke_min_ms": 0,
                "keystroke_max_ms": 0,
                "ui_wait": 0.5,
                "human_wait": 1,
            },
        )
        page = browser.new_context().new_page()
        runner = ActionRunner(
            Lincoln(settings), page, tmp / "captures", allow_private=(server.base.removeprefix("http://"),)
        )
        yield Bench(server, page, runner, LinkedInSite(), Mutator(0))


# ------------------------------------------------------------------ what a right answer is, per scenario
Judge = Callable[[Run, LinkedInSite], bool]


def profile_is(slug: str) -> Judge:
    def judge(run: Run, site: LinkedInSite) -> bool:
        want = site.expected_profile(slug)
        return {k: run.result.get(k) for k in want} == want

    return judge


def search_is(limit: int) -> Judge:
    def judge(run: Run, site: LinkedInSite) -> bool:
        got = [
            {**{k: p[k] for k in ("name", "headline", "location")}, "slug": p["profile_url"].split("/")[-2]}
            for p in run.result["people"]
        ]
        return got == site.expected_search(limit)

    return judge


def invited(slug: str, note: str | None) -> Judge:
    def judge(run: Run, site: LinkedInSite) -> bool:
        return run.result["status"] == "sent" and site.invitations == [{"slug": slug, "note": note}]

    return judge


def nothing_sent(status: str) -> Judge:
    def judge(run: Run, site: LinkedInSite) -> bool:
        no_messages = all(p.messages == [] for p in site.profiles.values() if p.slug != "ada-yonath")
        return run.result["status"] == status and not site.invitations and no_messages

    return judge


def messaged(slug: str, text: str, before: int) -> Judge:
    def judge(run: Run, site: LinkedInSite) -> bool:
        mine = site.profiles[slug].messages
        return run.result["status"] == "sent" and len(mine) == before + 1 and mine[-1] == text

    return judge


TEXT = "Hello Ada,\nlovely to meet you.\nBest, A."


@dataclass(frozen=True)
class Scenario:
    action: str
    params: dict[str, Any]
    judge: Judge
    setup: Callable[[LinkedInSite], None] = lambda site: None
    signed_in: bool = True
    expect_failure: str | None = None  # a right answer that is a failure (a 404 profile)


def _already(site: LinkedInSite) -> None:
    site.profiles["ada-yonath"].thread.append((site.member_name, TEXT))


SCENARIOS: dict[str, list[Scenario]] = {
    "check_session": [
        Scenario(
            "check_session", {}, lambda r, s: r.result["logged_in"] and r.result["name"] == s.member_name
        )
    ],
    "login": [
        Scenario(
            "login",
            {},
            lambda r, s: r.result["logged_in"] and r.result["name"] == s.member_name and s.logins == 1,
            signed_in=False,
        )
    ],
    "visit_profile": [
        *(
            Scenario("visit_profile", {"profile_url": slug}, profile_is(slug))
            for slug in ("grace-hopper", "alan-turing", "katherine-johnson", "charles-babbage")
        ),
        Scenario(
            "visit_profile", {"profile_url": "no-such-person"}, lambda r, s: False, expect_failure="not_found"
        ),
    ],
    "search_people": [Scenario("search_people", {"keywords": "computing", "limit": 5}, search_is(5))],
    "send_connection": [
        Scenario(
            "send_connection",
            {"profile_url": "grace-hopper", "note": "Loved COBOL."},
            invited("grace-hopper", "Loved COBOL."),
        ),
        Scenario("send_connection", {"profile_url": "alan-turing"}, invited("alan-turing", None)),
        Scenario("send_connection", {"profile_url": "katherine-johnson"}, nothing_sent("pending")),
        Scenario("send_connection", {"profile_url": "charles-babbage"}, nothing_sent("already_connected")),
    ],
    "send_message": [
        Scenario(
            "send_message", {"profile_url": "ada-yonath", "text": TEXT}, messaged("ada-yonath", TEXT, 0)
        ),
        Scenario(
            "send_message",
            {"profile_url": "ada-yonath", "text": TEXT},
            nothing_sent("already_sent"),
            _already,
        ),
        Scenario("send_message", {"profile_url": "grace-hopper", "text": "Hi"}, nothing_sent("not_possible")),
    ],
    "selfcheck": [
        Scenario(
            "selfcheck", {"profile_url": "alan-turing", "keywords": "computing"}, lambda r, s: r.result["ok"]
        )
    ],
}


def classify(run: Run, scenario: Scenario, site: LinkedInSite) -> str:
    if run.ok:
        if scenario.expect_failure is None and scenario.judge(run, site):
            return "correct"
        return "wrong_success"
    if scenario.expect_failure and scenario.expect_failure in (run.error or ""):
        return "correct"
    if run.locator is not None or "verification failed" in (run.error or ""):
        return "clean_failure"
    return "unclear_failure"


def exercise(
    bench: Bench, action: str, seeds: range, break_semantics: bool
) -> tuple[Counter[str], list[str]]:
    counts: Counter[str] = Counter()
    bad: list[str] = []
    scenarios = SCENARIOS[action]
    for i, seed in enumerate(seeds):
        scenario = scenarios[i % len(scenarios)]
        site = bench.fresh(seed, break_semantics, scenario.signed_in)
        scenario.setup(site)
        run = bench.runner.run(scenario.action, timeout=20, **scenario.params)
        verdict = classify(run, scenario, site)
        counts[verdict] += 1
        counts["misses_seen"] += bool(run.misses)
        if verdict in ("wrong_success", "unclear_failure"):
            applied = "; ".join(bench.mutator.applied)
            bad.append(
                f"seed {seed} {scenario.params}: {verdict}: {run.status} {run.error} {run.result} [{applied}]"
            )
    return counts, bad


@pytest.mark.parametrize("action", list(SCENARIOS))
def test_every_action_is_right_or_fails_with_a_locator_error_under_semantics_keeping_mutations(
    bench: Bench, action: str
) -> None:
    counts, bad = exercise(bench, action, SEEDS, break_semantics=False)
    STATS[f"{action} (keep)"] = counts
    assert not bad, "\n".join(bad)
    assert counts["correct"] + counts["clean_failure"] == len(SEEDS)


@pytest.mark.parametrize("action", [a for a in SCENARIOS if a != "selfcheck"])
def test_no_action_succeeds_wrongly_when_an_element_with_meaning_is_removed(
    bench: Bench, action: str
) -> None:
    counts, bad = exercise(bench, action, BREAK_SEEDS, break_semantics=True)
    STATS[f"{action} (break)"] = counts
    assert not [b for b in bad if "wrong_success" in b], "\n".join(bad)
    assert not bad, "\n".join(bad)
    assert counts["misses_seen"] > 0, f"no locator miss seen for {action} in {len(BREAK_SEEDS)} broken pages"


def test_selfcheck_names_the_locator_a_broken_page_lost(bench: Bench) -> None:
    site = bench.fresh(7)
    site.profiles["alan-turing"].about = ""
    run = bench.runner.run("selfcheck", timeout=20, profile_url="alan-turing", keywords="x")
    assert run.ok and run.result["missing"] == ["about_text"], run
    assert run.misses == []  # reported, not counted as a miss in real work
