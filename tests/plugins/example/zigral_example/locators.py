"""Every locator of the notes site, in one place: roles and accessible names only, and one URL shape."""

from __future__ import annotations

from playwright.sync_api import Locator, Page

NOTES_PATH = "/notes"  # the one URL the site guarantees


def notes_list(page: Page) -> Locator:
    return page.get_by_role("list", name="Notes", exact=True)


def note_items(page: Page) -> Locator:
    return notes_list(page).get_by_role("listitem")


def new_note_box(page: Page) -> Locator:
    return page.get_by_role("textbox", name="New note", exact=True)


def add_button(page: Page) -> Locator:
    return page.get_by_role("button", name="Add note", exact=True)
