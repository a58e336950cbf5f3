"""The example agent against its notes site, straight in headless Chromium (zigral/testing/harness.py): it
adds and reads notes, on the site as written and on ten seeded markup mutations of it, and when the site
loses what the agent relies on, it fails and names the locator instead of reporting a note added."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from zigral_example import Example
from zigral_example.fixture_site import NotesSite

from zigral.config import load_settings
from zigral.testing.harness import ActionRunner, headless_browser
from zigral.testing.mutate import Mutator, mutating
from zigral.testing.server import FixtureServer, serve

SEEDS = range(10)


@pytest.fixture(scope="module")
def harness() -> Iterator[tuple[FixtureServer, ActionRunner]]:
    server = FixtureServer()
    with serve(server), headless_browser() as browser, tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(None, agents={"example": {"base_url": server.base, "ui_wait": 3}})
        runner = ActionRunner(
            Example(settings),
            browser.new_page(),
            Path(tmp),
            allow_private=(server.base.removeprefix("http://"),),
        )
        yield server, runner


def fresh(harness: tuple[FixtureServer, ActionRunner], *notes: str) -> NotesSite:
    """A new notes site, and a new task: nothing remembered from another test's attempts."""
    server, runner = harness
    site = NotesSite(list(notes))
    site.install(server)
    runner.memo.clear()
    return site


def test_a_note_added_is_on_the_server_and_reported_as_read_back(
    harness: tuple[FixtureServer, ActionRunner],
) -> None:
    runner = harness[1]
    site = fresh(harness, "buy milk")
    run = runner.run("add_note", text="  call   Ada ")
    assert run.ok, run
    assert run.result == {"note": "call Ada", "count": 2, "verified": "listed"}
    assert site.notes == ["buy milk", "call Ada"]
    assert runner.run("read_notes").result == {"notes": ["buy milk", "call Ada"]}


def test_a_command_run_again_after_its_click_finds_its_note_instead_of_adding_it_twice(
    harness: tuple[FixtureServer, ActionRunner],
) -> None:
    runner = harness[1]
    site = fresh(harness, "first")
    assert runner.run("add_note", text="once").ok  # the worker "dies" here: the same task runs again
    again = runner.run("add_note", text="once")  # with what the first attempt remembered
    assert again.ok and again.result == {"note": "once", "count": 2, "verified": "listed"}, again
    assert site.notes == ["first", "once"]
    runner.memo.clear()  # a new task with the same text is a new note
    assert runner.run("add_note", text="once").ok and site.notes == ["first", "once", "once"]


def test_bad_params_are_rejected_before_the_page_is_touched(
    harness: tuple[FixtureServer, ActionRunner],
) -> None:
    runner = harness[1]
    site = fresh(harness)
    for params in ({}, {"text": ""}, {"text": 5}, {"text": "x" * 201}, {"text": "a", "extra": 1}):
        run = runner.run("add_note", **params)
        assert run.status == "rejected", (params, run)
    assert site.notes == []


@pytest.mark.parametrize("seed", SEEDS)
def test_incidental_markup_changes_nothing(harness: tuple[FixtureServer, ActionRunner], seed: int) -> None:
    server, runner = harness
    site = fresh(harness, "first")
    server.transform = mutating(Mutator(seed))
    try:
        run = runner.run("add_note", text=f"seed {seed}")
        assert run.ok, run
        assert site.notes == ["first", f"seed {seed}"]
        assert runner.run("read_notes").result == {"notes": ["first", f"seed {seed}"]}
    finally:
        server.transform = None


@pytest.mark.parametrize("seed", SEEDS)
def test_a_page_without_what_the_agent_relies_on_never_reports_a_note_added(
    harness: tuple[FixtureServer, ActionRunner], seed: int
) -> None:
    server, runner = harness
    site = fresh(harness)
    mutator = Mutator(seed, break_semantics=True)
    server.transform = mutating(mutator)
    try:
        run = runner.run("add_note", text="maybe")
    finally:
        server.transform = None
    if run.ok:  # the mutation removed something the agent does not use: the note must really be there
        assert site.notes == ["maybe"], (mutator.applied, run)
    else:  # a clean failure naming the locator that found nothing, and nothing written
        assert run.status == "failed" and run.locator in {"notes_list", "new_note_box", "add_button"}, run
        assert run.misses == [run.locator] and run.result is None and site.notes == [], (mutator.applied, run)
