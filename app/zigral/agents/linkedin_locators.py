"""Every LinkedIn locator, in one place: when LinkedIn changes its markup, this is the file to fix.

Roles, accessible names and stable ids first (the real site's ``aria-label``s such as "Invite … to connect",
"Add a note", "Send invitation", "Message …"; the login form's ``#username`` and ``#password``), then class
names as fallbacks. Each function takes the page and returns a Playwright locator.
"""

from __future__ import annotations

import re

from playwright.sync_api import Locator, Page

# ------------------------------------------------------------------------- URLs
LOGIN_PATH = "/login"
FEED_PATH = "/feed/"
SEARCH_PEOPLE_PATH = "/search/results/people/"

# Paths that mean "a person must act": the login wall, a security checkpoint, a two-step code page.
LOGIN_WALL = re.compile(r"/(login|authwall|uas/login)\b")
CHECKPOINT = re.compile(r"/checkpoint/")


# ------------------------------------------------------------------------- login and session
def username(page: Page) -> Locator:
    return page.locator("#username").or_(page.get_by_label("Email or phone"))


def password(page: Page) -> Locator:
    return page.locator("#password").or_(page.get_by_label("Password", exact=True))


def sign_in(page: Page) -> Locator:
    return (
        page.get_by_role("button", name="Sign in", exact=True).or_(page.locator("button[type=submit]")).first
    )


def login_error(page: Page) -> Locator:
    return page.locator("#error-for-password, #error-for-username, [role=alert]").first


def me_photo(page: Page) -> Locator:
    """The signed-in member's photo in the global nav; its alt text is their name."""
    return page.locator("img.global-nav__me-photo").or_(page.locator("#global-nav img[alt]")).first


def captcha(page: Page) -> Locator:
    return page.locator("#captcha-internal, iframe[title*=captcha i], iframe[src*=captcha]").first


def two_step_code(page: Page) -> Locator:
    return page.locator(
        "input[name=pin], #input__phone_verification_pin, #input__email_verification_pin"
    ).first


# ------------------------------------------------------------------------- people search
def search_results(page: Page) -> Locator:
    return page.locator("li.reusable-search__result-container")


def result_name_link(result: Locator) -> Locator:
    return result.locator("span.entity-result__title-text a, a.app-aware-link[href*='/in/']").first


def result_headline(result: Locator) -> Locator:
    return result.locator(".entity-result__primary-subtitle").first


def result_location(result: Locator) -> Locator:
    return result.locator(".entity-result__secondary-subtitle").first


def next_page(page: Page) -> Locator:
    return page.get_by_role("button", name="Next", exact=True)


# ------------------------------------------------------------------------- profile
def profile_name(page: Page) -> Locator:
    return page.locator("main h1").first


def profile_headline(page: Page) -> Locator:
    return page.locator("main div.text-body-medium.break-words").first


def profile_location(page: Page) -> Locator:
    return page.locator("main span.text-body-small.inline.t-black--light.break-words").first


def about(page: Page) -> Locator:
    return page.locator("section:has(#about) div.inline-show-more-text span[aria-hidden=true]").first


def experience_entries(page: Page) -> Locator:
    return page.locator("section:has(#experience) li.artdeco-list__item")


def experience_field(entry: Locator, which: str) -> Locator:
    """``which``: title, company, dates (the real entry's three ``span[aria-hidden=true]`` lines)."""
    return entry.locator(f"[data-field={which}] span[aria-hidden=true], .exp-{which}").first


def degree(page: Page) -> Locator:
    return page.locator("main span.dist-value").first


def profile_actions(page: Page) -> Locator:
    """The button row under the profile's top card (where Connect, Message and More live)."""
    return page.locator("main .pvs-profile-actions").first


def connect_button(page: Page, name: str) -> Locator:
    return profile_actions(page).get_by_role("button", name=f"Invite {name} to connect", exact=True)


def more_button(page: Page) -> Locator:
    return profile_actions(page).get_by_role("button", name="More actions", exact=True)


def connect_in_more_menu(page: Page, name: str) -> Locator:
    """Connect inside the "More actions" menu; found while the menu is still closed (hidden) too."""
    return page.locator(".artdeco-dropdown__content").get_by_role(
        "button", name=f"Invite {name} to connect", exact=True, include_hidden=True
    )


def pending_button(page: Page, name: str) -> Locator:
    return profile_actions(page).get_by_role(
        "button", name=f"Pending, click to withdraw invitation sent to {name}", exact=True
    )


def message_button(page: Page, name: str) -> Locator:
    return profile_actions(page).get_by_role("button", name=f"Message {name}", exact=True)


# ------------------------------------------------------------------------- invitation modal
def invite_dialog(page: Page) -> Locator:
    return page.get_by_role("dialog")


def add_a_note(page: Page) -> Locator:
    return invite_dialog(page).get_by_role("button", name="Add a note", exact=True)


def send_without_note(page: Page) -> Locator:
    return invite_dialog(page).get_by_role("button", name="Send without a note", exact=True)


def note_field(page: Page) -> Locator:
    return (
        invite_dialog(page).locator("#custom-message").or_(invite_dialog(page).get_by_role("textbox")).first
    )


def send_invitation(page: Page) -> Locator:
    return (
        invite_dialog(page)
        .get_by_role("button", name="Send invitation", exact=True)
        .or_(invite_dialog(page).get_by_role("button", name="Send", exact=True))
    )


# ------------------------------------------------------------------------- messaging
def message_box(page: Page) -> Locator:
    return (
        page.get_by_role("textbox", name=re.compile(r"^Write a message"))
        .or_(page.locator("div.msg-form__contenteditable"))
        .first
    )


def message_send(page: Page) -> Locator:
    return (
        page.locator("button.msg-form__send-button")
        .or_(page.locator(".msg-form").get_by_role("button", name="Send", exact=True))
        .first
    )


def sent_messages(page: Page) -> Locator:
    return page.locator(".msg-s-event-listitem__body")
