"""Lincoln, the LinkedIn agent: careful, paced, and never doing a side effect twice.

Locators live in :mod:`zigral.agents.linkedin_locators`; quotas are taken by the runtime (``quota=``);
when LinkedIn shows a login wall, a checkpoint, a captcha or a two-step code page, Lincoln reports
``needs_human`` and waits for an operator to clear it through noVNC.
"""

from __future__ import annotations

import json
import random
import time
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

from playwright.sync_api import Locator
from pydantic import Field, field_validator

from zigral.actions import Action, ActionContext, NoParams, Params
from zigral.agents import linkedin_locators as L
from zigral.agents.base import Agent
from zigral.config import QuotaLimit, Settings
from zigral.constants import NEEDS_HUMAN, RUNNING
from zigral.errors import Rejected, TaskError

NOTE_LIMIT = 300


class SearchParams(Params):
    keywords: str = Field(min_length=1, max_length=200)
    limit: int = Field(10, ge=1, le=100)
    network: list[str] = Field(
        default_factory=list, description="connection degrees: F (1st), S (2nd), O (3rd+)"
    )
    location: str | None = Field(None, max_length=100)

    @field_validator("network")
    @classmethod
    def _degrees(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if v not in ("F", "S", "O")]
        if bad:
            raise ValueError(f"network takes F, S or O, not {bad}")
        return value


class ProfileParams(Params):
    profile_url: str = Field(min_length=1, max_length=500)


class ConnectParams(ProfileParams):
    note: str | None = Field(None, max_length=NOTE_LIMIT, description=f"at most {NOTE_LIMIT} characters")


class MessageParams(ProfileParams):
    text: str = Field(min_length=1, max_length=8000)


class Lincoln(Agent):
    name = "lincoln"
    canary_action = "check_session"

    def __init__(self, settings: Settings) -> None:
        self.cfg = settings.lincoln
        super().__init__(settings)

    def site_actions(self) -> list[Action[Any]]:
        return [
            Action("check_session", NoParams, self.check_session),
            Action("login", NoParams, self.login),
            Action("search_people", SearchParams, self.search_people),
            Action("visit_profile", ProfileParams, self.visit_profile, quota="visit"),
            Action("send_connection", ConnectParams, self.send_connection, quota="connect"),
            Action("send_message", MessageParams, self.send_message, quota="message"),
        ]

    @property
    def quota_account(self) -> str:
        return self.cfg.account

    @property
    def quota_limits(self) -> dict[str, QuotaLimit]:
        return self.cfg.quotas

    # ------------------------------------------------------------------ pacing
    def _pause(self, ctx: ActionContext) -> None:
        """A random pause between steps, as a careful person would take (0 in tests)."""
        seconds = random.uniform(self.cfg.pause_min, max(self.cfg.pause_min, self.cfg.pause_max))
        if seconds > 0:
            ctx.page.wait_for_timeout(seconds * 1000)

    def _type(self, ctx: ActionContext, field: Locator, text: str) -> None:
        """Type like a person: one key at a time with a random delay (or fill at once when pacing is off)."""
        field.click()
        if self.cfg.keystroke_max_ms <= 0:
            field.fill(text)
            return
        for char in text:
            field.press_sequentially(char)
            ctx.page.wait_for_timeout(random.uniform(self.cfg.keystroke_min_ms, self.cfg.keystroke_max_ms))

    # ------------------------------------------------------------------ navigation and people
    def _url(self, path: str) -> str:
        return urljoin(self.cfg.base_url.rstrip("/") + "/", path.lstrip("/"))

    def _profile_url(self, value: str) -> str:
        url = value if value.startswith(("http://", "https://")) else self._url(f"/in/{value.strip('/')}/")
        if urlsplit(url).netloc != urlsplit(self.cfg.base_url).netloc or "/in/" not in urlsplit(url).path:
            raise Rejected(f"not a LinkedIn profile URL: {value!r}")
        return url

    def _open(self, ctx: ActionContext, url: str) -> None:
        ctx.goto(url, "domcontentloaded")
        self._clear_blockers(ctx)
        self._pause(ctx)

    def _blocker(self, ctx: ActionContext) -> str | None:
        """What stops an agent on this page, or None."""
        path = urlsplit(ctx.page.url).path
        if L.CHECKPOINT.search(path):
            if L.captcha(ctx.page).count():
                return "a captcha"
            if L.two_step_code(ctx.page).count():
                return "a two-step verification code"
            return "a security checkpoint"
        if L.LOGIN_WALL.search(path):
            return "the login wall (not signed in)"
        return None

    def _clear_blockers(self, ctx: ActionContext) -> None:
        """When a person is needed: capture, report needs_human, wait for the page to clear, carry on."""
        reason = self._blocker(ctx)
        if reason is None:
            return
        ctx.capture("needs-human", html=False)
        host = self.settings.web.public_host or "this VM"
        ctx.report(
            NEEDS_HUMAN, f"LinkedIn shows {reason}; clear it at http://{host}:{self.settings.web.port}/"
        )
        ctx.deadline.extend_to_at_least(self.cfg.human_wait + 30)
        end = time.monotonic() + self.cfg.human_wait
        while time.monotonic() < end:
            ctx.page.wait_for_timeout(500)
            if self._blocker(ctx) is None:
                ctx.report(RUNNING, None)
                ctx.page.wait_for_load_state("domcontentloaded")
                return
        raise TaskError(
            f"LinkedIn shows {reason}, not cleared by an operator within {self.cfg.human_wait:.0f}s"
        )

    # ------------------------------------------------------------------ actions
    def check_session(self, ctx: ActionContext, p: NoParams) -> dict[str, Any]:
        ctx.goto(self._url(L.FEED_PATH), "domcontentloaded")
        blocked = self._blocker(ctx)
        if blocked is not None:
            return {"logged_in": False, "blocked_by": blocked}
        photo = L.me_photo(ctx.page)
        return {"logged_in": True, "name": photo.get_attribute("alt") if photo.count() else None}

    def _credentials(self) -> tuple[str, str]:
        path = self.cfg.credentials_file
        if path is None:
            raise TaskError(
                "no LinkedIn credentials: set ZIGRAL_LINCOLN__CREDENTIALS_FILE to a JSON secrets file"
            )
        try:
            data = json.loads(path.read_text())
            return str(data["username"]), str(data["password"])
        except (OSError, ValueError, KeyError) as exc:
            raise TaskError(f"LinkedIn credentials file {path} is unreadable: {type(exc).__name__}") from None

    def login(self, ctx: ActionContext, p: NoParams) -> dict[str, Any]:
        user, secret = self._credentials()
        ctx.goto(self._url(L.LOGIN_PATH), "domcontentloaded")
        if not L.LOGIN_WALL.search(urlsplit(ctx.page.url).path):
            return {**self.check_session(ctx, p), "already": True}
        self._type(ctx, L.username(ctx.page), user)
        self._pause(ctx)
        self._type(ctx, L.password(ctx.page), secret)
        self._pause(ctx)
        with ctx.page.expect_navigation(wait_until="domcontentloaded"):
            L.sign_in(ctx.page).click()
        error = L.login_error(ctx.page)
        if L.LOGIN_WALL.search(urlsplit(ctx.page.url).path) and error.count() and error.inner_text().strip():
            raise TaskError(f"LinkedIn refused the login: {error.inner_text().strip()}")
        self._clear_blockers(ctx)
        return {**self.check_session(ctx, p), "already": False}

    def search_people(self, ctx: ActionContext, p: SearchParams) -> dict[str, Any]:
        query: dict[str, str] = {"keywords": p.keywords, "origin": "GLOBAL_SEARCH_HEADER"}
        if p.network:
            query["network"] = json.dumps(p.network)
        if p.location:
            query["location"] = p.location
        self._open(ctx, self._url(L.SEARCH_PEOPLE_PATH) + "?" + urlencode(query))
        people: list[dict[str, Any]] = []
        pages = 1
        while True:
            ctx.page.wait_for_load_state("domcontentloaded")
            results = L.search_results(ctx.page)
            for i in range(results.count()):
                item = results.nth(i)
                link = L.result_name_link(item)
                href = link.get_attribute("href") or ""
                people.append(
                    {
                        "name": link.inner_text().strip().splitlines()[0],
                        "headline": L.result_headline(item).inner_text().strip(),
                        "location": L.result_location(item).inner_text().strip(),
                        "profile_url": urljoin(ctx.page.url, href.split("?")[0]),
                    }
                )
                if len(people) >= p.limit:
                    return {"people": people, "pages": pages}
            nxt = L.next_page(ctx.page)
            if not nxt.count() or not nxt.is_enabled():
                return {"people": people, "pages": pages}
            self._pause(ctx)
            with ctx.page.expect_navigation(wait_until="domcontentloaded"):
                nxt.click()
            pages += 1

    def _text(self, locator: Locator) -> str | None:
        return locator.inner_text().strip() if locator.count() else None

    def visit_profile(self, ctx: ActionContext, p: ProfileParams) -> dict[str, Any]:
        self._open(ctx, self._profile_url(p.profile_url))
        page = ctx.page
        name = self._text(L.profile_name(page)) or ""
        entries = L.experience_entries(page)
        experience = [
            {
                which: self._text(L.experience_field(entries.nth(i), which))
                for which in ("title", "company", "dates")
            }
            for i in range(entries.count())
        ]
        return {
            "name": name,
            "headline": self._text(L.profile_headline(page)),
            "location": self._text(L.profile_location(page)),
            "about": self._text(L.about(page)),
            "current_position": experience[0] if experience else None,
            "experience": experience,
            "degree": self._text(L.degree(page)),
            "can_connect": bool(
                L.connect_button(page, name).count() or L.connect_in_more_menu(page, name).count()
            ),
            "can_message": bool(L.message_button(page, name).count()),
            "pending": bool(L.pending_button(page, name).count()),
        }

    def send_connection(self, ctx: ActionContext, p: ConnectParams) -> dict[str, Any]:
        self._open(ctx, self._profile_url(p.profile_url))
        page = ctx.page
        name = self._text(L.profile_name(page)) or ""
        # Look at the page before any side effect: a redelivered command must not invite twice.
        if L.pending_button(page, name).count():
            return {"status": "pending", "sent": False, "name": name}
        if self._text(L.degree(page)) == "1st":
            return {"status": "already_connected", "sent": False, "name": name}
        if L.connect_button(page, name).count():
            L.connect_button(page, name).click()
        elif L.more_button(page).count():
            L.more_button(page).click()
            self._pause(ctx)
            menu_item = L.connect_in_more_menu(page, name)
            if not menu_item.count():
                raise TaskError(f"LinkedIn offers no Connect for {name}, not even under More")
            menu_item.click()
        else:
            raise TaskError(f"LinkedIn offers no Connect for {name}")
        L.invite_dialog(page).wait_for()
        self._pause(ctx)
        if p.note:
            L.add_a_note(page).click()
            self._type(ctx, L.note_field(page), p.note)
            self._pause(ctx)
            L.send_invitation(page).click()
        else:
            L.send_without_note(page).click()
        L.pending_button(page, name).wait_for()
        return {"status": "sent", "sent": True, "name": name, "note": bool(p.note)}

    def send_message(self, ctx: ActionContext, p: MessageParams) -> dict[str, Any]:
        self._open(ctx, self._profile_url(p.profile_url))
        page = ctx.page
        name = self._text(L.profile_name(page)) or ""
        button = L.message_button(page, name)
        if not button.count() or self._text(L.degree(page)) != "1st":
            return {
                "sent": False,
                "status": "not_possible",
                "reason": f"{name} is not a 1st-degree connection",
            }
        button.click()
        box = L.message_box(page)
        box.wait_for()
        sent = L.sent_messages(page)
        # A redelivered command finds its text already last in the thread and does not send it again.
        if sent.count() and sent.last.inner_text().strip() == p.text.strip():
            return {"sent": False, "status": "already_sent", "name": name}
        before = sent.count()
        self._type(ctx, box, p.text)
        self._pause(ctx)
        L.message_send(page).click()
        page.wait_for_function(
            "n => document.querySelectorAll('.msg-s-event-listitem__body').length > n", arg=before
        )
        return {"sent": True, "status": "sent", "name": name}
