"""Lincoln, the LinkedIn agent: careful, paced, never doing a side effect twice, and never reporting a
success it did not see on the page.

Locators live in :mod:`zigral.agents.lincoln.locators`, page readers in
:mod:`zigral.agents.lincoln.pages`. Every action checks its outcome before it succeeds and says which
check it made (``"verified"``). When LinkedIn shows a login wall, a checkpoint, a captcha or a two-step
code page, Lincoln reports ``needs_human``, waits for an operator (looking at the session itself every
``recheck_interval`` seconds, so a check cleared in another tab counts), then goes back to its own target
and starts its step again. Quotas are taken through ``ctx.take_quota`` right before the side effect.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Locator

from zigral.actions import Action, ActionContext, NoParams
from zigral.agents.base import Agent
from zigral.agents.lincoln import locators as L
from zigral.agents.lincoln import pages as read
from zigral.agents.lincoln.models import (
    ConnectParams,
    ConnectResult,
    LoginResult,
    MessageParams,
    MessageResult,
    ProfileParams,
    ProfileResult,
    SearchParams,
    SearchResult,
    SelfcheckResult,
    SessionResult,
)
from zigral.agents.lincoln.pacing import Pacer, PacingBounds
from zigral.agents.lincoln.selfcheck import SelfcheckParams, selfcheck
from zigral.agents.lincoln.settings import LincolnSettings
from zigral.config import QuotaLimit, Settings
from zigral.constants import NEEDS_HUMAN, RUNNING
from zigral.errors import Rejected, TaskError

MAX_HANDOFFS = 3  # hand-offs to a person within one command before it gives up


class Lincoln(Agent):
    name = "lincoln"
    settings_model = LincolnSettings
    order = 1
    canary_action = "check_session"

    def __init__(self, settings: Settings) -> None:
        self.cfg = settings.agent_settings(self.name, LincolnSettings)
        self.bounds = PacingBounds(
            self.cfg.pause_min,
            self.cfg.pause_max,
            self.cfg.keystroke_min_ms,
            self.cfg.keystroke_max_ms,
            self.cfg.pacing_reserve,
        )
        super().__init__(settings)

    def site_actions(self) -> list[Action[Any]]:
        return [
            Action("check_session", NoParams, self.check_session, result=SessionResult),
            Action("login", NoParams, self.login, result=LoginResult),
            Action("search_people", SearchParams, self.search_people, result=SearchResult),
            Action("visit_profile", ProfileParams, self.visit_profile, result=ProfileResult),
            Action("send_connection", ConnectParams, self.send_connection, result=ConnectResult),
            Action("send_message", MessageParams, self.send_message, result=MessageResult),
            Action("selfcheck", SelfcheckParams, self.selfcheck, result=SelfcheckResult),
        ]

    @property
    def quota_limits(self) -> dict[str, QuotaLimit]:
        return self.cfg.quotas

    # ------------------------------------------------------------------ pacing
    def plan(self, ctx: ActionContext, pauses: int, keys: int = 0) -> Pacer:
        """Pacing for this run, shrunk so that its worst case fits the time left."""
        return self.bounds.plan(ctx.deadline.remaining(), pauses, keys)

    def _pause(self, ctx: ActionContext, pacer: Pacer) -> None:
        seconds = pacer.pause()
        if seconds > 0:
            ctx.page.wait_for_timeout(seconds * 1000)

    def _type(self, ctx: ActionContext, pacer: Pacer, field: Locator, text: str) -> None:
        """Type like a person, a key at a time; a line break is Shift+Enter (Enter sends on LinkedIn)."""
        field.click()
        keyboard = ctx.page.keyboard
        for i, line in enumerate(text.replace("\r\n", "\n").split("\n")):
            if i:
                keyboard.press("Shift+Enter")
            if pacer.typing_off:
                keyboard.insert_text(line)
                continue
            for char in line:
                keyboard.type(char)
                delay = pacer.keystroke_ms()
                if delay >= 1:
                    ctx.page.wait_for_timeout(delay)

    def _clear(self, ctx: ActionContext, field: Locator) -> None:
        field.click()
        ctx.page.keyboard.press("ControlOrMeta+A")
        ctx.page.keyboard.press("Delete")

    # ------------------------------------------------------------------ navigation and hand-offs
    def url(self, path: str) -> str:
        return urljoin(self.cfg.base_url.rstrip("/") + "/", path.lstrip("/"))

    def profile_url(self, value: str) -> tuple[str, str]:
        """The canonical profile URL and its slug, from a URL or a bare slug."""
        url = value if value.startswith(("http://", "https://")) else self.url(f"/in/{value.strip('/')}/")
        slug = read.profile_slug(url)
        if urlsplit(url).netloc != urlsplit(self.cfg.base_url).netloc or slug is None:
            raise Rejected(f"not a LinkedIn profile URL: {value!r}")
        return self.url(f"/in/{urlsplit(url).path.split('/')[2]}/"), slug

    def open(self, ctx: ActionContext, url: str) -> int | None:
        """Go to ``url``; after any hand-off to a person, go back to it and start again (its status)."""
        for _ in range(MAX_HANDOFFS + 1):
            response = ctx.goto(url, "domcontentloaded")
            reason = self.blocker(ctx)
            if reason is None:
                return response.status if response is not None else None
            self._wait_for_human(ctx, reason)
        raise TaskError(f"LinkedIn kept asking for a person after {MAX_HANDOFFS} hand-offs on {url}")

    def blocker(self, ctx: ActionContext) -> str | None:
        """What stops an agent on this page, or None."""
        try:
            path = urlsplit(ctx.page.url).path
            if L.CHECKPOINT.search(path):
                if L.captcha(ctx.page).count():
                    return "a captcha"
                if L.two_step_code(ctx.page).count():
                    return "a two-step verification code"
                return "a security checkpoint"
            if L.LOGIN_WALL.search(path) or L.password_field_anywhere(ctx.page).count():
                return "the login wall (not signed in)"
            if L.sign_in_links(ctx.page).count() and not L.me_photo(ctx.page).count():
                return "the login wall (signed out: LinkedIn shows its public page)"
        except PlaywrightError:  # the page is navigating (an operator at work): ask again
            return "a page that is still loading"
        return None

    def session_ok(self, ctx: ActionContext) -> bool:
        """Asks the site, from inside the tab, whether the session is signed in and clear of checks."""
        try:
            return bool(ctx.page.evaluate(L.SESSION_PROBE_JS, L.FEED_PATH) == "ok")
        except PlaywrightError:
            return False

    def _wait_for_human(self, ctx: ActionContext, reason: str) -> None:
        """Capture, report needs_human, wait until the page or the session says it is cleared."""
        ctx.capture("needs-human", html=False)
        ctx.report(NEEDS_HUMAN, f"LinkedIn shows {reason}; clear it at {self.settings.web.public_url}")
        ctx.deadline.extend_to_at_least(self.cfg.human_wait + 30)
        start = time.monotonic()
        next_probe = start + self.cfg.recheck_interval
        while time.monotonic() < start + self.cfg.human_wait:
            ctx.page.wait_for_timeout(500)
            if self.blocker(ctx) is None:
                break
            if time.monotonic() >= next_probe:
                next_probe += self.cfg.recheck_interval
                if self.session_ok(ctx):
                    break
        else:
            raise TaskError(
                f"LinkedIn shows {reason}, not cleared by an operator within {self.cfg.human_wait:.0f}s"
            )
        ctx.report(RUNNING, None)
        ctx.deadline.extend_to_at_least(self.settings.runtime.default_timeout)

    def selfcheck(self, ctx: ActionContext, p: SelfcheckParams) -> dict[str, Any]:
        """Visit the feed, a profile and a search; report which locators resolved (``missing`` lists)."""
        return selfcheck(self, ctx, p)

    # ------------------------------------------------------------------ session
    def check_session(self, ctx: ActionContext, p: NoParams) -> dict[str, Any]:
        """Is the browser signed in to LinkedIn? Opens the feed; the member's name when it is."""
        ctx.goto(self.url(L.FEED_PATH), "domcontentloaded")
        blocked = self.blocker(ctx)
        if blocked is not None:
            return {"logged_in": False, "blocked_by": blocked}
        name = read.me_name(ctx, self.cfg.ui_wait)
        return {"logged_in": True, "name": name, "verified": "the feed shows the member's photo in its nav"}

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
        """Sign in with the credentials file (never from a message); a checkpoint is handed to a person."""
        user, secret = self._credentials()
        pacer = self.plan(ctx, 2, len(user) + len(secret))
        ctx.goto(self.url(L.LOGIN_PATH), "domcontentloaded")
        if not L.LOGIN_WALL.search(urlsplit(ctx.page.url).path):
            return {**self.check_session(ctx, p), "already": True}
        if not L.username(ctx.page).count() and L.another_account(ctx.page).count():
            with ctx.page.expect_navigation(wait_until="domcontentloaded"):
                L.another_account(ctx.page).click()  # "Welcome Back": the full form, for our account
        for field, value in ((L.username(ctx.page), user), (L.password(ctx.page), secret)):
            if not read.appears(field, self.cfg.ui_wait):
                raise ctx.missing("login_form", "no username or password field on the login page")
            self._type(ctx, pacer, field, value)
            self._pause(ctx, pacer)
        button = L.sign_in(ctx.page)
        if not button.count():
            raise ctx.missing("sign_in", "no Sign in button on the login page")
        try:
            with ctx.page.expect_navigation(wait_until="domcontentloaded", timeout=self.cfg.ui_wait * 3000):
                button.click()
        except PlaywrightError:
            raise ctx.missing("sign_in", "Sign in did not submit the login form") from None
        error = L.login_error(ctx.page)
        if L.LOGIN_WALL.search(urlsplit(ctx.page.url).path) and error.count() and error.inner_text().strip():
            raise TaskError(f"LinkedIn refused the login: {error.inner_text().strip()}")
        path = urlsplit(ctx.page.url).path
        if L.INTERSTITIAL.search(path):  # "Add a phone number", "Remember me": skipped, nothing to do
            skip = L.skip_button(ctx.page)
            if skip.count():
                skip.click()
        elif L.CHECKPOINT.search(path) or L.LOGIN_WALL.search(path):
            reason = self.blocker(ctx)
            if reason is not None:
                self._wait_for_human(ctx, reason)
        return {**self.check_session(ctx, p), "already": False}

    # ------------------------------------------------------------------ search
    def search_people(self, ctx: ActionContext, p: SearchParams) -> dict[str, Any]:
        """People search, page after page up to ``limit``: name, headline, location, profile URL each."""
        query: dict[str, str] = {"keywords": p.keywords, "origin": "GLOBAL_SEARCH_HEADER"}
        if p.network:
            query["network"] = json.dumps(p.network)
        # LinkedIn's URL takes places as geo URNs, not names: the place is matched on each result's
        # location line instead, so that a filter is never silently ignored.
        where = p.location.casefold() if p.location else None
        pacer = self.plan(ctx, 1 + p.limit // 10)
        self.open(ctx, self.url(L.SEARCH_PEOPLE_PATH) + "?" + urlencode(query))
        self._pause(ctx, pacer)
        people: list[dict[str, Any]] = []
        pages, seen = 1, 0
        while True:
            self._verify_search_url(ctx, p.keywords)
            found, total, listed = read.read_search_page(ctx, self.cfg.ui_wait)
            seen += listed
            people.extend(x for x in found if where is None or where in x["location"].casefold())
            if len(people) >= p.limit or seen >= total or pages >= L.MAX_SEARCH_PAGES:
                checks = f"search URL carries keywords={p.keywords!r}; {seen} of {total} results read"
                return {
                    "people": people[: p.limit],
                    "pages": pages,
                    "total": total,
                    "verified": checks + (f"; location matched {p.location!r}" if where else ""),
                }
            nxt = L.next_page(ctx.page)
            if nxt.count():
                nxt.scroll_into_view_if_needed()
            if not nxt.count() or not nxt.is_enabled():
                raise ctx.missing("next_page", f"{seen} of {total} results read and no Next page")
            self._pause(ctx, pacer)
            before = read.search_signature(ctx)
            nxt.click()
            self._await_next_page(ctx, before)
            if self.blocker(ctx) is not None:
                raise TaskError("LinkedIn asked for a person in the middle of a search; send it again")
            pages += 1

    def _await_next_page(self, ctx: ActionContext, before: list[str] | None) -> None:
        """Until the results are another page's: a full load, or results swapped in place."""
        end = time.monotonic() + self.cfg.ui_wait
        while time.monotonic() < end:
            ctx.page.wait_for_timeout(100)
            if self.blocker(ctx) is not None:
                return
            now = read.search_signature(ctx)
            if now is not None and now != before:
                ctx.page.wait_for_load_state("domcontentloaded")
                return
        raise ctx.missing("next_page", "Next did not bring another page of results")

    def _verify_search_url(self, ctx: ActionContext, keywords: str) -> None:
        parts = urlsplit(ctx.page.url)
        got = parse_qs(parts.query).get("keywords", [""])[0]
        if not parts.path.startswith(L.SEARCH_PEOPLE_PATH) or got != keywords:
            raise TaskError(
                f"verification failed: the search page is {ctx.page.url}, "
                f"not a people search for {keywords!r}"
            )

    # ------------------------------------------------------------------ profiles
    def visit_profile(self, ctx: ActionContext, p: ProfileParams) -> dict[str, Any]:
        """Read a profile: top card, About, Experience, degree and what can be done (quota ``visit``)."""
        url, slug = self.profile_url(p.profile_url)
        pacer = self.plan(ctx, 1)
        ctx.take_quota("visit")
        top = read.read_top_card(ctx, slug, self.open(ctx, url), self.cfg.ui_wait)
        self._pause(ctx, pacer)
        rel = read.read_relationship(ctx, top)
        read.reveal(ctx)
        experience = read.read_experience(ctx, self.cfg.ui_wait)
        return {
            "name": top.name,
            "headline": top.headline,
            "location": top.location,
            "about": read.read_about(ctx),
            "current_position": experience[0] if experience else None,
            "experience": experience,
            "degree": top.degree,
            "can_connect": rel.connect,
            "can_message": rel.message,
            "pending": rel.pending,
            "profile_url": top.url,
            "verified": f"the page is /in/{top.slug}/ with the name heading {top.name!r}",
        }

    def send_connection(self, ctx: ActionContext, p: ConnectParams) -> dict[str, Any]:
        """Invite a person, with an optional note; ``pending`` or ``already_connected`` sends nothing.
        Quota ``connect``, taken only when the invitation is about to go."""
        url, slug = self.profile_url(p.profile_url)
        pacer = self.plan(ctx, 4, len(p.note or ""))
        top = read.read_top_card(ctx, slug, self.open(ctx, url), self.cfg.ui_wait)
        self._pause(ctx, pacer)
        page, card, name = ctx.page, top.card, top.name
        # Look at the page before any side effect: a redelivered command must not invite twice.
        if L.pending_button(card, name).count():
            return {"status": "pending", "sent": False, "name": name, "verified": "Pending shown for " + name}
        if top.degree == "1st":
            return {"status": "already_connected", "sent": False, "name": name, "verified": "degree 1st"}
        connect = L.connect_button(card, name)
        if not connect.count():
            more = L.more_button(card)
            if not more.count():
                raise ctx.missing("connect_button", f"no Connect for {name}, and no More actions")
            more.click()
            self._pause(ctx, pacer)
            if not read.appears(connect, self.cfg.ui_wait, "visible"):
                # A member who takes no invitations looks exactly like a Connect locator that broke: it
                # stays a counted miss (the alert needs two in 30 min), and the error says both.
                only = " (only Follow is offered)" if L.follow_button(card, name).count() else ""
                raise ctx.missing(
                    "connect_in_more_menu",
                    f"no Connect for {name} under More actions{only}: no invitation sent; LinkedIn offers "
                    "some members only Follow, but if every profile says this, the locator broke",
                )
        ctx.take_quota("connect")
        connect.first.click()
        if not read.appears(L.invite_dialog(page), self.cfg.ui_wait, "visible"):
            raise ctx.missing("invite_dialog", f"no invitation dialog after Connect for {name}")
        self._pause(ctx, pacer)
        if p.note:
            if not L.add_a_note(page).count():
                raise ctx.missing("add_a_note", "no Add a note in the invitation dialog")
            L.add_a_note(page).click()
            field = L.note_field(page)
            if not read.appears(field, self.cfg.ui_wait, "visible"):
                raise ctx.missing("note_field", "no note field after Add a note")
            self._type(ctx, pacer, field, p.note)
            self._pause(ctx, pacer)
            send = L.send_invitation(page)
            if not send.count():
                raise ctx.missing("send_invitation", "no Send invitation in the dialog")
            send.click()
        else:
            if not L.send_without_note(page).count():
                raise ctx.missing("send_without_note", "no Send without a note in the dialog")
            L.send_without_note(page).click()
        if not read.appears(L.pending_button(card, name), self.cfg.ui_wait):
            raise ctx.missing("pending_button", f"no Pending for {name} after Send: was it sent?")
        return {
            "status": "sent",
            "sent": True,
            "name": name,
            "note": bool(p.note),
            "verified": f"the profile shows Pending for {name} after Send",
        }

    # ------------------------------------------------------------------ messages
    def send_message(self, ctx: ActionContext, p: MessageParams) -> dict[str, Any]:
        """Message a 1st-degree connection; ``already_sent`` when it is already the last message from us.
        Quota ``message``, taken only when the message is about to go."""
        url, slug = self.profile_url(p.profile_url)
        pacer = self.plan(ctx, 3, len(p.text))
        top = read.read_top_card(ctx, slug, self.open(ctx, url), self.cfg.ui_wait)
        me = read.me_name(ctx, self.cfg.ui_wait)
        page, name = ctx.page, top.name
        button = L.message_button(top.card, name)
        if not button.count():
            if top.degree == "1st":
                raise ctx.missing("message_button", f"{name} is a 1st-degree connection without Message")
            return {
                "sent": False,
                "status": "not_possible",
                "reason": f"{name} is not a 1st-degree connection",
                "verified": f"no Message button; degree {top.degree or 'not shown'}",
            }
        if top.degree != "1st":
            return {
                "sent": False,
                "status": "not_possible",
                "reason": f"{name} is not a 1st-degree connection (degree {top.degree or 'not shown'})",
                "verified": "degree is not 1st",
            }
        self._pause(ctx, pacer)
        button.first.click()
        box = read.conversation_box(ctx, name, self.cfg.ui_wait)
        if box is None:
            raise ctx.missing("message_box", f"no conversation with {name} after Message {name}")
        want = read.normalised(p.text)
        ours = [m for m in read.read_thread(ctx, box) if m["sender"] == me]
        # A redelivered command (a crash after Send) finds its text already last from us: not sent twice.
        if ours and ours[-1]["text"] == want:
            return {
                "sent": False,
                "status": "already_sent",
                "name": name,
                "verified": f"the thread's last message from {me} is this text",
            }
        ctx.take_quota("message")
        self._clear(ctx, box)  # a draft LinkedIn kept (a run that stopped while typing) is not sent
        self._type(ctx, pacer, box, p.text)
        self._pause(ctx, pacer)
        send = L.message_send(box)
        if not send.count():
            raise ctx.missing("message_send", "no Send button in the message form")
        send.click()
        end = time.monotonic() + self.cfg.ui_wait
        while True:
            thread = read.read_thread(ctx, box)
            if thread and thread[-1]["sender"] == me and thread[-1]["text"] == want:
                break
            if time.monotonic() > end:
                last = thread[-1] if thread else None
                raise ctx.missing(
                    "sent_message", f"the message is not last in the thread after Send ({last})"
                )
            page.wait_for_timeout(100)
        return {
            "sent": True,
            "status": "sent",
            "name": name,
            "verified": f"the sent text is the thread's last message, from {me}",
        }
