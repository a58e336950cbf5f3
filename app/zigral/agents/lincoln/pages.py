"""Reading LinkedIn pages into data, with a named locator miss for anything the page must have had.

Each reader either returns what the page shows or raises ``ctx.missing(<locator>, ...)``: a value the page
should carry and does not is a locator failure the operator sees (``zigral_locator_misses_total``), never
a silent ``None`` or an empty list in a successful result.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Locator, Page

from zigral.actions import ActionContext
from zigral.agents.lincoln import locators as L
from zigral.errors import TaskError


def normalised(text: str) -> str:
    """Whitespace collapsed: how two messages are compared."""
    return re.sub(r"\s+", " ", text).strip()


def appears(locator: Locator, timeout_s: float, state: str = "attached") -> bool:
    """True once ``locator`` is on the page (bounded wait): an SPA renders after DOMContentLoaded."""
    try:
        locator.first.wait_for(state=state, timeout=max(100.0, timeout_s * 1000))  # type: ignore[arg-type]
        return True
    except PlaywrightError:
        return False


@dataclass(frozen=True)
class TopCard:
    slug: str
    url: str  # the canonical profile URL the page is on (a member id redirects to the vanity slug)
    name: str
    headline: str
    location: str
    degree: str | None
    card: Locator


def profile_slug(url: str) -> str | None:
    match = L.PROFILE_PATH.match(urlsplit(url).path)
    return unquote(match.group(1)).lower() if match else None


def read_top_card(ctx: ActionContext, slug: str, status: int | None, wait_s: float) -> TopCard:
    """Verify that the page is the profile ``slug`` and read its top card; ``not_found`` for a 404."""
    page = ctx.page
    path = urlsplit(page.url).path
    heading = L.profile_name(page)
    shown = heading.inner_text().strip() if appears(heading, wait_s) else ""
    if status == 404 or L.NOT_FOUND_PATH.match(path) or L.NOT_FOUND_HEADING.search(shown):
        raise TaskError(f"not_found: LinkedIn has no profile /in/{slug}/ (it shows {shown or page.url!r})")
    now = profile_slug(page.url)
    # A member id (ACoAA...) redirects to the vanity slug: any profile page is then the one asked for.
    if now is None or (now != slug and not slug.startswith("acoa")):
        raise TaskError(f"verification failed: asked for /in/{slug}/, the browser is on {page.url}")
    if not shown:
        raise ctx.missing("profile_name", f"no name heading on /in/{slug}/")
    card = L.top_card(page)
    data = L.evaluate(card, L.TOP_CARD_JS, L.TOP_CARD_CLASSES) if card.count() else None
    if not data or not data.get("name"):
        raise ctx.missing("profile_top_card", f"no top card around the name on /in/{slug}/")
    if not data.get("headline"):
        raise ctx.missing("profile_headline", f"no headline under {data['name']}")
    if not data.get("location"):
        raise ctx.missing("profile_location", f"no location under {data['name']}")
    segment = urlsplit(page.url).path.split("/")[2]
    url = urljoin(page.url, f"/in/{segment}/")
    return TopCard(now, url, data["name"], data["headline"], data["location"], data.get("degree"), card)


@dataclass(frozen=True)
class Relationship:
    pending: bool
    connect: bool  # a Connect button, visible or inside "More actions"
    message: bool


def read_relationship(ctx: ActionContext, top: TopCard) -> Relationship:
    """What can be done with this member. A "Message" button on a member who is not a 1st-degree
    connection opens LinkedIn's InMail upsell: it is not messaging."""
    card = top.card
    message = L.message_button(card, top.name).count() > 0
    rel = Relationship(
        pending=L.pending_button(card, top.name).count() > 0,
        connect=L.connect_button(card, top.name, include_hidden=True).count() > 0,
        message=message and top.degree == "1st",
    )
    if top.degree == "1st" and not message:
        raise ctx.missing("message_button", f"{top.name} is a 1st-degree connection without Message")
    # Only a visible Follow says "nothing else offered" (creators, members who restrict invitations).
    follow_only = L.follow_button(card, top.name).count() > 0
    if not (rel.pending or rel.connect or message or follow_only):
        raise ctx.missing("profile_actions", f"none of Connect, Pending, Message or Follow for {top.name}")
    return rel


def read_about(ctx: ActionContext) -> str | None:
    sec = L.section(ctx.page, "about", "About")
    if not sec.count():
        return None  # a profile without an About section
    text = L.evaluate(sec, L.ABOUT_JS)
    if not text:
        raise ctx.missing("about_text", "an About section without text")
    return str(text)


def reveal(ctx: ActionContext) -> None:
    """Scroll through the profile so that LinkedIn loads its lazy sections."""
    try:
        ctx.page.evaluate(L.REVEAL_JS)
    except PlaywrightError:
        pass  # a page that will not scroll still has what it has


def read_experience(ctx: ActionContext, wait_s: float) -> list[dict[str, str]]:
    sec = L.section(ctx.page, "experience", "Experience")
    if not sec.count() and not appears(sec, min(3.0, wait_s)):  # it may still be loading after reveal()
        return []  # a profile without an Experience section
    entries: list[list[str]] = L.evaluate(sec, L.ENTRIES_JS)
    if not entries:
        raise ctx.missing("experience_entries", "an Experience section without entries")
    out = []
    for lines in entries:
        facts = [L.FACT_SEPARATOR.split(line)[0].strip() for line in lines]
        dates = next((f for f in facts[2:] if L.DATES.search(f)), None)
        if len(facts) < 3 or dates is None:
            raise ctx.missing(
                "experience_entry", f"an Experience entry without title, company and dates: {lines}"
            )
        out.append({"title": facts[0], "company": facts[1], "dates": dates})
    return out


def me_name(ctx: ActionContext, wait_s: float) -> str:
    photo = L.me_photo(ctx.page)
    name = (photo.get_attribute("alt") or "").strip() if appears(photo, wait_s) else ""
    if not name:
        raise ctx.missing("me_photo", "no signed-in member's photo in the global nav")
    return name


def search_signature(ctx: ActionContext) -> list[str] | None:
    """The profile links of the results on the page now (None while it cannot be read): a new page of
    results is one whose links differ (LinkedIn may change the URL before it swaps the results)."""
    try:
        data = L.evaluate(L.search_main(ctx.page), L.SEARCH_JS, L.SEARCH_CLASSES)
    except PlaywrightError:
        return None
    return [str(r.get("href")) for r in data["results"]]


def read_search_page(ctx: ActionContext, wait_s: float) -> tuple[list[dict[str, Any]], int, int]:
    """The people on this results page, the total the page announces, and the results it listed
    (out-of-network "LinkedIn Member" results are listed but have no profile to return)."""
    page: Page = ctx.page
    main = L.search_main(page)
    if not appears(main, wait_s):
        raise ctx.missing("search_main", "no main landmark on the search page")
    data = L.evaluate(main, L.SEARCH_JS, L.SEARCH_CLASSES)
    if data["count"] is None:
        if L.NO_RESULTS.search(main.inner_text()):
            return [], 0, 0
        raise ctx.missing("results_count", "no result count on the search page")
    total = int(re.sub(r"\D", "", L.RESULT_COUNT.search(data["count"]).group(1)))  # type: ignore[union-attr]
    people = []
    for item in data["results"]:
        if "missing" in item:
            raise ctx.missing(item["missing"], "a search result without a link to a profile")
        for key, locator in (
            ("name", "result_name"),
            ("headline", "result_headline"),
            ("location", "result_location"),
        ):
            if not item.get(key):
                raise ctx.missing(locator, f"a search result without its {key}")
        people.append(
            {
                "name": item["name"],
                "headline": item["headline"],
                "location": item["location"],
                "profile_url": urljoin(page.url, (item["href"] or "").split("?")[0]),
            }
        )
    listed = len(people) + int(data["skipped"])
    if total and not listed:
        raise ctx.missing("search_results", f"the page announces {total} results and lists none")
    return people, total, listed


def conversation_box(ctx: ActionContext, name: str, wait_s: float) -> Locator | None:
    """The editor of the open conversation with ``name`` (other bubbles may be open too), or None."""
    boxes = L.message_boxes(ctx.page)
    end = time.monotonic() + wait_s
    while True:
        index = int(boxes.evaluate_all(L.CONVERSATION_JS, name))
        if index >= 0:
            return boxes.nth(index)
        if time.monotonic() > end:
            return None
        ctx.page.wait_for_timeout(100)


def read_thread(ctx: ActionContext, box: Locator) -> list[dict[str, str]]:
    """The conversation next to the message box, oldest first: ``[{sender, text}]``."""
    return list(L.evaluate(box, L.THREAD_JS))
