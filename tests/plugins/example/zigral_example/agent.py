"""The example agent: the smallest site agent that keeps Zigral's rules.

It relies only on what its site guarantees (roles, accessible names, the ``/notes`` URL), counts a locator
that finds nothing (``ctx.missing``), and never reports a note added that it did not see in the list.
"""

from __future__ import annotations

from typing import Any

from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from pydantic import BaseModel, Field

from zigral.actions import Action, ActionContext, NoParams, Params, Result
from zigral.agents.base import Agent
from zigral.config import Settings
from zigral.errors import TaskError
from zigral_example import locators as L
from zigral_example.settings import ExampleSettings


class NoteParams(Params):
    text: str = Field(min_length=1, max_length=200, description="the note, one line")


class NotesResult(Result):
    notes: list[str] = Field(description="every note in the list, top to bottom")


class AddResult(Result):
    note: str = Field(description="the note as the list shows it")
    count: int = Field(description="notes in the list after adding it")
    verified: str = Field(description="how the outcome was checked: `listed` (read back from the list)")


class Example(Agent):
    name = "example"
    settings_model = ExampleSettings
    order = 50  # after the agents that ship with Zigral

    def __init__(self, settings: Settings) -> None:
        self.cfg = settings.agent_settings(self.name, ExampleSettings)
        super().__init__(settings)

    def site_actions(self) -> list[Action[Any]]:
        return [
            Action("read_notes", NoParams, self.read_notes, result=NotesResult),
            Action("add_note", NoteParams, self.add_note, result=AddResult),
        ]

    def _open(self, ctx: ActionContext) -> list[str]:
        ctx.goto(self.cfg.base_url.rstrip("/") + L.NOTES_PATH)
        if L.notes_list(ctx.page).count() == 0:
            raise ctx.missing("notes_list", "no list named Notes on the notes page")
        return _texts(L.note_items(ctx.page).all_inner_texts())

    def read_notes(self, ctx: ActionContext, params: NoParams) -> BaseModel:
        """Every note on the notes page."""
        return NotesResult(notes=self._open(ctx))

    def add_note(self, ctx: ActionContext, params: NoteParams) -> BaseModel:
        """Add a note and read it back from the list before reporting it added; a command run again (its
        worker died after the click) finds its note instead of adding it twice."""
        text = " ".join(params.text.split())
        before = self._open(ctx)
        if "count_before" in ctx.memo:  # an earlier attempt got as far as the click: look before acting
            at = int(ctx.memo["count_before"])
            if len(before) > at and before[at] == text:
                return AddResult(note=text, count=len(before), verified="listed")
        box, button = L.new_note_box(ctx.page), L.add_button(ctx.page)
        if box.count() != 1:
            raise ctx.missing("new_note_box", "no single textbox named New note")
        if button.count() != 1:
            raise ctx.missing("add_button", "no single button named Add note")
        box.fill(text)
        ctx.remember("count_before", len(before))  # kept with the task record before the side effect
        button.click()
        items = L.note_items(ctx.page)
        try:
            items.nth(len(before)).wait_for(timeout=min(self.cfg.ui_wait * 1000, ctx.remaining_ms()))
        except PlaywrightTimeoutError:
            raise TaskError(f"the note did not show in the list within {self.cfg.ui_wait:g}s") from None
        after = _texts(items.all_inner_texts())
        if after.count(text) != before.count(text) + 1:
            raise TaskError(f"the list does not show {text!r} once more than before: {after[-3:]}")
        return AddResult(note=text, count=len(after), verified="listed")


def _texts(texts: list[str]) -> list[str]:
    """Notes as a person reads them: runs of white space as one space."""
    return [" ".join(t.split()) for t in texts]
