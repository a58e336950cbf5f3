"""Lincoln's locator self-check: visit the feed, a profile and a search, and say which locators resolved.

When LinkedIn changes its markup the operator runs ``selfcheck`` and sees which locator broke, instead of
finding out from wrong results. Misses here are reported, not counted in
``zigral_locator_misses_total`` (that counter is for real work, and alerts).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from pydantic import Field

from zigral.actions import ActionContext, Params
from zigral.agents.lincoln import locators as L
from zigral.agents.lincoln import pages as read
from zigral.errors import LocatorMissing

if TYPE_CHECKING:
    from zigral.agents.lincoln import Lincoln

# What each reader proves resolved when it returns without a miss.
PROFILE_LOCATORS = ("profile_name", "profile_top_card", "profile_headline", "profile_location")
SEARCH_LOCATORS = ("search_main", "results_count", "search_results", "result_name_link", "result_name",
                   "result_headline", "result_location")  # fmt: skip


class SelfcheckParams(Params):
    profile_url: str | None = Field(None, max_length=500, description="a profile to read (optional)")
    keywords: str = Field("engineer", min_length=1, max_length=200, description="a people search to read")


def selfcheck(agent: Lincoln, ctx: ActionContext, p: SelfcheckParams) -> dict[str, Any]:
    quiet = dataclasses.replace(ctx, on_locator_miss=lambda locator: None)
    resolved: dict[str, bool] = {}
    wait = agent.cfg.ui_wait

    def check(names: tuple[str, ...], reader: Callable[[], Any]) -> Any:
        try:
            value = reader()
        except LocatorMissing as exc:
            resolved.update({n: n != exc.locator and resolved.get(n, False) for n in names})
            resolved[exc.locator] = False
            return None
        resolved.update({n: True for n in names})
        return value

    agent.open(ctx, agent.url(L.FEED_PATH))
    check(("me_photo",), lambda: read.me_name(quiet, wait))
    if p.profile_url:
        url, slug = agent.profile_url(p.profile_url)
        status = agent.open(ctx, url)
        top = check(PROFILE_LOCATORS, lambda: read.read_top_card(quiet, slug, status, wait))
        if top is not None:
            resolved["degree"] = top.degree is not None
            check(("profile_actions",), lambda: read.read_relationship(quiet, top))
        check(("about_text",), lambda: read.read_about(quiet))
        resolved["about_section"] = L.section(ctx.page, "about", "About").count() > 0
        read.reveal(ctx)
        check(("experience_entries", "experience_entry"), lambda: read.read_experience(quiet, wait))
        resolved["experience_section"] = L.section(ctx.page, "experience", "Experience").count() > 0
    agent.open(ctx, agent.url(L.SEARCH_PEOPLE_PATH) + "?" + urlencode({"keywords": p.keywords}))
    check(SEARCH_LOCATORS, lambda: read.read_search_page(quiet, wait))
    resolved["next_page"] = L.next_page(ctx.page).count() > 0
    missing = sorted(name for name, ok in resolved.items() if not ok)
    return {
        "resolved": resolved,
        "missing": missing,
        "ok": not missing,
        "verified": "feed, " + ("a profile, " if p.profile_url else "") + "a people search visited",
    }
