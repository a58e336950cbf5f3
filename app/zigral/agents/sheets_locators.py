"""Every Google Sheets locator and URL, in one place: when Sheets changes, this is the file to fix."""

from __future__ import annotations

import re
from urllib.parse import quote, urlencode

from playwright.sync_api import Locator, Page

# A spreadsheet id as it appears in /spreadsheets/d/<id>/...
SPREADSHEET_ID = re.compile(r"/spreadsheets/d/([A-Za-z0-9_-]+)")


# Where Google sends a signed-out browser: accounts.google.com/ServiceLogin, /v3/signin/..., /signin/...
SIGN_IN = re.compile(r"^/(ServiceLogin|v3/signin|signin)\b")
_ACCOUNT = re.compile(r"^Google Account: (.+?)\s*(\(|$)")


def home_url(base: str) -> str:
    """The Sheets home: it lists the user's spreadsheets, or redirects to sign-in."""
    return f"{base}/spreadsheets/u/0/"


def sign_in_form(page: Page) -> Locator:
    return page.get_by_label("Email or phone")


def account_button(page: Page) -> Locator:
    """The account chip in Google's bar: aria-label "Google Account: Name (email)"."""
    return page.get_by_label(re.compile(r"^Google Account: "))


def account_name(label: str | None) -> str | None:
    m = _ACCOUNT.match(label or "")
    return m.group(1) if m else None


def edit_url(base: str, spreadsheet_id: str) -> str:
    return f"{base}/spreadsheets/d/{spreadsheet_id}/edit"


def export_csv_url(base: str, spreadsheet_id: str, gid: int, cells: str | None) -> str:
    """The sheet's own CSV export, served to a signed-in user."""
    query = {"format": "csv", "gid": str(gid)}
    if cells:
        query["range"] = cells
    return f"{base}/spreadsheets/d/{spreadsheet_id}/export?{urlencode(query)}"


def gviz_csv_url(base: str, spreadsheet_id: str, sheet: str, cells: str | None) -> str:
    """The visualization endpoint's CSV output, by tab name."""
    query = {"tqx": "out:csv", "sheet": sheet}
    if cells:
        query["range"] = cells
    return f"{base}/spreadsheets/d/{spreadsheet_id}/gviz/tq?{urlencode(query, quote_via=quote)}"


def name_box(page: Page) -> Locator:
    return page.locator("#t-name-box")


def formula_bar(page: Page) -> Locator:
    return page.locator("#t-formula-bar-input")


def grid(page: Page) -> Locator:
    return page.get_by_role("grid").or_(page.locator("#grid")).first


def title(page: Page) -> Locator:
    return page.locator("input.docs-title-input").first


def tabs(page: Page) -> Locator:
    return page.locator(".docs-sheet-tab")


def tab_name(tab: Locator) -> Locator:
    return tab.locator(".docs-sheet-tab-name")


def tab_named(page: Page, name: str) -> Locator:
    return tabs(page).filter(
        has=page.locator(".docs-sheet-tab-name", has_text=re.compile(f"^{re.escape(name)}$"))
    )


def view_only(page: Page) -> Locator:
    """Present when the signed-in user may only view (Sheets shows a "View only" badge)."""
    return page.locator("#docs-access-level-indicator", has_text="View only")
