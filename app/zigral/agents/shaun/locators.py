"""Every Google Sheets locator and URL, in one place: when Sheets changes, this is the file to fix."""

from __future__ import annotations

import re
from urllib.parse import quote, urlencode

from playwright.sync_api import Locator, Page

# A spreadsheet id as it appears in /spreadsheets/d/<id>/... or /spreadsheets/u/<n>/d/<id>/...
SPREADSHEET_ID = re.compile(r"/spreadsheets/(?:u/\d+/)?d/([A-Za-z0-9_-]+)")  # also a /u/1/ account URL


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


# The active tab's gid, as Sheets puts it in the URL once a tab is activated (``edit#gid=1842``).
GID_IN_URL = re.compile(r"[#?&]gid=(\d+)")
# The editor's page title: "<spreadsheet title> - Google Sheets".
TITLE_SUFFIX = re.compile(r"\s+-\s+Google Sheets\s*$")
# The badge or banner of a book the user may only view ("View only", "You can only view this file").
VIEW_ONLY_TEXT = re.compile(r"\bview[ -]only\b|\bcan only view\b|\bread[ -]only\b", re.IGNORECASE)
# Sheets' save indicator while edits are on their way to the server ("Saving…", then "Saved to Drive").
SAVING_TEXT = re.compile(r"\bsaving\b", re.IGNORECASE)
# Google's page for a file that is gone: "Sorry, the file you have requested does not exist."
NOT_FOUND_TEXT = re.compile(r"does not exist|file you have requested|\bnot found\b", re.IGNORECASE)
# A visible element (outside the grid, the tabs, the Name Box and the formula bar, whose text is data) whose
# short text or aria-label matches: one walk of the page that never enters the grid.
_MARKED_JS = """pattern => {
    const re = new RegExp(pattern, 'i');
    const skip = '[role=grid], [role=tab], [role=tablist], #t-name-box, #t-formula-bar-input, script, style';
    const seen = el => el.getClientRects().length > 0;
    const walk = el => {
        if (el.matches(skip)) return false;
        const label = el.getAttribute('aria-label');
        if (label && re.test(label) && seen(el)) return true;
        const text = el.textContent || '';
        if (!re.test(text.replace(/\\s+/g, ' '))) return false;
        if (text.length <= 200 && seen(el) && !el.querySelector(skip)) return true;
        return Array.from(el.children).some(walk);
    };
    return walk(document.body);
}"""


def name_box(page: Page) -> Locator:
    """The Name Box (a documented landmark): shows the selection, jumps to what is typed into it."""
    return page.locator("#t-name-box")


def formula_bar(page: Page) -> Locator:
    """The formula bar (a documented landmark): shows the active cell's content, or the edit under way."""
    return page.locator("#t-formula-bar-input")


def tabs(page: Page) -> Locator:
    """The sheet tabs: by role (the accessible tab strip), else Sheets' own tab class. The role is always
    explicit on a tab, so a CSS attribute match finds it without walking a grid's many cells for roles."""
    by_role = page.locator("[role=tab]")
    return by_role if by_role.count() else page.locator(".docs-sheet-tab")


_TAB_LABELS_JS = """els => els.map(e => {
    const name = e.querySelectorAll('.docs-sheet-tab-name');
    return (name.length === 1 ? name[0] : e).innerText;
})"""


def tab_labels(tabs: Locator) -> list[str]:
    """The tabs' names as shown (Sheets' name element, else the tab's text), whitespace collapsed."""
    return [" ".join(str(text).split()) for text in tabs.evaluate_all(_TAB_LABELS_JS)]


def tab_selected(tab: Locator) -> bool | None:
    """Whether the tab shows as the active one (None: the markup does not say)."""
    selected = tab.get_attribute("aria-selected")
    if selected is not None:
        return selected == "true"
    classes = tab.get_attribute("class") or ""
    return True if "docs-sheet-active-tab" in classes else None


def url_gid(url: str) -> int | None:
    m = GID_IN_URL.search(url)
    return int(m.group(1)) if m else None


def title(page: Page) -> str:
    return TITLE_SUFFIX.sub("", page.title()).strip()


def view_only(page: Page) -> bool:
    """The page says the user may only view (a badge, a banner or a labelled control)."""
    return bool(page.evaluate(_MARKED_JS, VIEW_ONLY_TEXT.pattern))


def saving(page: Page) -> bool:
    """Sheets' save indicator says edits are still on their way to the server ("Saving…")."""
    return bool(page.evaluate(_MARKED_JS, SAVING_TEXT.pattern))


def says_not_found(page: Page) -> bool:
    return page.get_by_text(NOT_FOUND_TEXT).count() > 0


# Sheets' modal for an edit of a protected range: "You are trying to edit a protected cell or object. ..."
PROTECTED_TEXT = re.compile(r"\bprotected\b", re.IGNORECASE)


def protected_dialog(page: Page) -> Locator:
    """A visible modal dialog saying the cells are protected."""
    dialogs = page.locator("[role=dialog], [role=alertdialog]")  # explicit roles: no walk of the grid
    return dialogs.filter(has_text=PROTECTED_TEXT).filter(visible=True)


def dialog_button(dialog: Locator) -> Locator:
    return dialog.get_by_role("button", name=re.compile(r"^(OK|Got it|Close|Cancel)$", re.IGNORECASE))


def add_rows_button(page: Page) -> Locator:
    """Sheets' "Add [1000] more rows at bottom" control, under the grid's last row."""
    return page.get_by_role("button", name=re.compile(r"^\s*Add\s*$", re.IGNORECASE)).filter(visible=True)
