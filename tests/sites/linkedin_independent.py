# ruff: noqa: E501, RUF001, RUF002  (markup on readable lines; the real site's typographic characters)
"""An independent LinkedIn-like site, written from what the real site shows, not from our fixture.

Same URLs, roles, accessible names and landmark structure as www.linkedin.com; its own class names, ids,
nesting and ordering. Traits copied from the real site because agents trip on them:

- every text of a search result and of the profile's list sections is written twice, once
  ``aria-hidden="true"`` and once visually hidden ("View Jane Doe’s profile", with a typographic
  apostrophe); a name link's href carries ``?miniProfileUrn=…``;
- a profile shows a hidden sticky copy of its action bar, and an aside ("More profiles for you") whose
  people have their own "Invite X to connect" and "Message X" buttons;
- "Connect" is a primary button, or an item (``div role=button``) of the "More actions" menu; a 2nd-degree
  member can show "Message X", which only opens an InMail upsell;
- the experience section nests title, company (" · Full-time") and dates (" · 4 yrs") in spans; a
  company with several roles is grouped under the company's name;
- an unknown profile is LinkedIn's 404 page ("This page doesn’t exist");
- conversation bubbles stay open across page loads, the newest last; Enter sends, Shift+Enter breaks
  the line; each editor line is a paragraph;
- the login page has a "Sign in with Apple" button before the form's "Sign in".

Switches for situations the real site produces (attributes of :class:`LinkedInSite`): a wall at a given
page (``expire_on``) cleared by a person in the tab (``operator_after``) or out of band (``revive()``), a
checkpoint at login, the add-phone interstitial, the "Welcome Back" page of a remembered account, the
public profile a signed-out browser gets, in-page search pagination, an Experience section that loads
when scrolled to, a draft left in a conversation, the "Click Send" option, the free account's note limit
and the weekly invitation limit; an out-of-network "LinkedIn Member" and a member whose invitation asks
for an email are always there.

State lives on the server (:class:`LinkedInSite`): sessions (cookie ``li_at``), invitations with their
notes, messages per member; tests assert on it.
"""

from __future__ import annotations

import html
import json
import secrets
import threading
from dataclasses import dataclass, field
from urllib.parse import parse_qs, quote, unquote

from zigral.testing.server import FixtureServer, Request, Response

COOKIE = "li_at"
OWNER = "Alex Operator"
USERNAME = "alex.operator@example.org"
PASSWORD = "correct horse battery"
PAGE_SIZE = 10
HTML = "text/html; charset=utf-8"
ABOUT = "I build data platforms for teams that would rather ship than babysit pipelines. Streaming, lakes, coffee."
HIDE = "position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap"
E = html.escape


@dataclass
class Job:
    title: str
    company: str
    dates: str  # "Jan 2020 - Present"; the page adds the duration
    kind: str = "Full-time"
    place: str = ""


@dataclass
class Member:
    slug: str
    name: str
    headline: str
    location: str
    degree: int  # 1, 2 or 3
    connect: str = "primary"  # primary, more (under "More actions"), none
    jobs: list[Job] = field(default_factory=list)
    grouped: bool = False  # the first jobs share a company: one group with several roles
    inmail: bool = False  # a 2nd/3rd-degree member whose "Message" opens the InMail upsell
    email_required: bool = False  # the invitation asks for the member's email address
    out_of_network: bool = False  # a search shows "LinkedIn Member", no name, no profile link
    urn: str = ""

    def __post_init__(self) -> None:
        self.urn = self.urn or "ACoAA" + secrets.token_hex(6).upper()


@dataclass
class Message:
    slug: str
    mine: bool
    text: str


def default_members() -> list[Member]:
    return [
        Member(
            "jane-doe-4b1a",
            "Jane Doe",
            "Senior Data Engineer at Acme",
            "Paris, Île-de-France, France",
            2,
            jobs=[
                Job("Senior Data Engineer", "Acme", "Jan 2020 - Present", place="Paris, France"),
                Job("Data Analyst", "Globex", "Mar 2016 - Dec 2019", "Full-time"),
            ],
        ),
        Member(
            "marc-petit",
            "Marc Petit",
            "Founder · Data engineer",
            "Lyon, France",
            2,
            connect="more",
            inmail=True,
            jobs=[Job("Founder", "Petit Data", "Jun 2021 - Present", "Self-employed")],
        ),
        Member(
            "ada-king",
            "Ada King",
            "Data engineer, ML platform",
            "London, England, United Kingdom",
            1,
            connect="none",
            grouped=True,
            jobs=[
                Job("Staff Data Engineer", "Initech", "Feb 2022 - Present"),
                Job("Data Engineer", "Initech", "Jan 2019 - Jan 2022"),
                Job("Intern", "Hooli", "Jun 2018 - Aug 2018", "Internship"),
            ],
        ),
        Member(
            "dara-obrien",
            "Dara O'Brien",
            "Data engineer at Éire Analytics",
            "Dublin, Ireland",
            2,
            jobs=[Job("Data Engineer", "Éire Analytics", "Sep 2019 - Present")],
        ),
        Member(
            "zoë-ångström",
            "Zoë Ångström",
            "Dataingenjör / data engineer",
            "Stockholm, Sweden",
            1,
            connect="none",
            jobs=[Job("Dataingenjör", "Nordlys AB", "Apr 2018 - Present")],
        ),
        Member(
            "li-wei",
            "李伟 (Li Wei)",
            "数据工程师 Data engineer",
            "Shanghai, China",
            3,
            jobs=[Job("数据工程师", "上海数据", "May 2017 - Present")],
        ),
        Member(
            "sam-pending",
            "Sam Pending",
            "Data engineer at Umbrella",
            "Berlin, Germany",
            2,
            jobs=[Job("Data Engineer", "Umbrella", "Jul 2020 - Present")],
        ),
        Member(
            "bob-side",
            "Bob Side",
            "Recruiter at Vandelay",
            "Paris, France",
            1,
            connect="none",
            jobs=[Job("Recruiter", "Vandelay", "Jan 2015 - Present")],
        ),
        Member(
            "ola-nordmann",
            "Ola Nordmann",
            "R&D data engineer at Wonka",
            "Oslo, Norway",
            3,
            jobs=[Job("R&D Data Engineer", "Wonka", "Jan 2021 - Present")],
        ),
        Member(
            "fiona-follow",
            "Fiona Follow",
            "Keynote speaker on data",
            "Cork, Ireland",
            2,
            connect="none",
            jobs=[Job("Speaker", "Fiona Talks", "Jan 2010 - Present", "Self-employed")],
        ),
        Member(
            "erin-email",
            "Erin Email",
            "Privacy engineer",
            "Dublin, Ireland",
            3,
            email_required=True,
            jobs=[Job("Privacy Engineer", "Hushmail", "Feb 2017 - Present")],
        ),
        Member("quinn-quantum", "Quinn Quantum", "Quantum computing researcher", "Delft, Netherlands", 2),
        Member(
            "q-hidden",
            "Hidden Quantum",
            "Quantum software engineer",
            "Zurich, Switzerland",
            3,
            out_of_network=True,
        ),
        Member(
            "carla-side",
            "Carla Side",
            "Product manager at Hooli",
            "Madrid, Spain",
            2,
            jobs=[Job("Product Manager", "Hooli", "Oct 2018 - Present")],
        ),
    ] + [
        Member(f"data-person-{i:02d}", f"Data Person {i:02d}", f"Data engineer #{i}", "Remote", 3)
        for i in range(1, 24)
    ]


def _duration(dates: str) -> str:
    start, _, end = dates.partition(" - ")
    y0 = int(start.split()[-1])
    y1 = 2026 if end == "Present" else int(end.split()[-1])
    years = max(y1 - y0, 1)
    return f"{years} yr" if years == 1 else f"{years} yrs"


def _twice(text: str, cls: str = "") -> str:
    """The real site's pattern: the text for the eyes (aria-hidden) and the same for screen readers."""
    t = E(text)
    return f'<span class="{cls}"><span aria-hidden="true"><!---->{t}<!----></span><span class="sr">{t}</span></span>'


class _Routes(dict[str, object]):
    """Exact paths first, then the dynamic prefixes (/in/<slug>/, /checkpoint/challenge/<id>)."""

    def __init__(self, site: LinkedInSite) -> None:
        super().__init__()
        self.site = site

    def get(self, path: str, default: object = None) -> object:  # type: ignore[override]
        if path in self:
            return self[path]
        if path.startswith("/in/"):
            return self.site.profile
        if path.startswith("/checkpoint/challenge/"):
            return self.site.challenge
        return default


class LinkedInSite:
    """The site and its server-side state; ``server`` is a FixtureServer to ``serve()``."""

    def __init__(self, members: list[Member] | None = None) -> None:
        self.members = {m.slug: m for m in (members or default_members())}
        self.lock = threading.Lock()
        self.sessions: dict[str, int | None] = {}  # token -> page loads left before the wall (None: no end)
        self.invitations: list[tuple[str, str | None]] = [("sam-pending", None)]
        self.messages: dict[str, list[Message]] = {}
        self.bubbles: list[str] = []  # conversations open in the overlay, oldest first
        self.challenge_logins = False  # the next login goes through a checkpoint
        self.pending_challenges: set[str] = set()
        self.operator_after: float | None = None  # a person signs in from a signed-out page after N s
        self.operator_on = {"login", "authwall", "checkpoint"}  # ... from these kinds of page
        self.guest_profiles = False  # signed out, /in/<slug>/ is the public profile instead of the authwall
        self.notes_left: int | None = None  # personalized invitations left this month (free account)
        self.interstitial = False  # a correct login lands on "Add a phone number" (Skip) before the feed
        self.spa_pages = False  # "Next" swaps the results in place after a delay, the URL changing first
        self.lazy_sections = False  # Experience loads only when scrolled into view
        self.enter_sends = True  # the member's send option: False is "Click Send" (Enter breaks the line)
        self.remembered = False  # /login is "Welcome Back" with the remembered account, as after an expiry
        self.weekly_limit = False  # every invitation is refused with LinkedIn's weekly-limit dialog
        self.wall_kind = "login"  # what a signed-out page redirects to: login (or authwall), checkpoint
        self.drafts: dict[str, str] = {}  # text left in a conversation's editor (LinkedIn keeps drafts)
        self.logins = 0
        self.expire_on: str | None = (
            None  # the first signed-in page whose path+query has this ends every session
        )
        self.searches: list[str] = []  # the keywords of every search page served
        self.server = FixtureServer()
        routes = _Routes(self)
        routes.update(
            {
                "/": self.home,
                "/feed/": self.feed,
                "/login": self.login_page,
                "/authwall": self.authwall,
                "/checkpoint/lg/login-submit": self.login_submit,
                "/check/add-phone": self.add_phone,
                "/search/results/people/": self.search,
                "/voyager/api/invite": self.api_invite,
                "/voyager/api/message": self.api_message,
                "/voyager/api/bubble": self.api_bubble,
                "/voyager/api/section": self.api_section,
                "/voyager/api/operator": self.api_operator,
            }
        )
        self.server.routes = routes  # type: ignore[assignment]

    # ------------------------------------------------------------------ state helpers for tests
    def new_session(self, loads: int | None = None) -> str:
        token = "AQED" + secrets.token_hex(16)
        with self.lock:
            self.sessions[token] = loads
        return token

    def revive(self) -> None:
        """Every session valid again: a checkpoint solved elsewhere, accepted server-side."""
        with self.lock:
            for token in self.sessions:
                self.sessions[token] = None

    def invited(self, slug: str) -> list[str | None]:
        return [note for s, note in self.invitations if s == slug]

    def thread(self, slug: str) -> list[Message]:
        return list(self.messages.get(slug, []))

    def sent(self, slug: str) -> list[str]:
        return [m.text for m in self.thread(slug) if m.mine]

    # ------------------------------------------------------------------ plumbing
    def _session(self, req: Request, count: bool = True) -> str | None:
        here = f"{req.path}?{req.query}"
        if count and self.expire_on is not None and self.expire_on in here:
            self.expire_on = None
            with self.lock:
                self.sessions = dict.fromkeys(self.sessions, 0)
        raw = req.headers.get("Cookie") or req.headers.get("cookie") or ""
        for part in raw.split(";"):
            key, _, value = part.strip().partition("=")
            if key == COOKIE:
                with self.lock:
                    if value not in self.sessions:
                        return None
                    left = self.sessions[value]
                    if left is not None:
                        if left <= 0:
                            return None
                        if count:
                            self.sessions[value] = left - 1
                return value
        return None

    @staticmethod
    def _redirect(location: str, cookie: str | None = None) -> Response:
        headers = {"Location": location, "Content-Type": HTML}
        if cookie:
            headers["Set-Cookie"] = f"{COOKIE}={cookie}; Path=/; HttpOnly; SameSite=Lax"
        return 302, headers, b""

    def _page(self, title: str, body: str, signed_in: bool, status: int = 200, kind: str = "") -> Response:
        operator = ""
        if kind in self.operator_on and self.operator_after is not None:  # a person signs in, in this tab
            operator = (
                f"<script>setTimeout(async()=>{{await fetch('/voyager/api/operator',"
                f"{{method:'POST'}});location.href='/feed/'}},{int(self.operator_after * 1000)})</script>"
            )
        nav = (
            self._nav()
            if signed_in
            else (
                '<header class="guest-bar"><a href="/">LinkedIn</a> <a href="/login">Sign in</a> '
                '<a href="/signup">Join now</a></header>'
            )
        )
        bubbles = self._bubbles_html() if signed_in else ""
        doc = (
            f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{E(title)}</title>"
            f"<style>.sr{{{HIDE}}} .gone{{display:none}} .ov{{position:fixed;bottom:0;right:0;"
            f"display:flex;gap:8px;background:#fff}} .bb{{width:320px;border:1px solid #ccc}}"
            f" .menu[hidden]{{display:none}}</style></head><body>{nav}{body}{bubbles}{operator}"
            f"<script>{SCRIPT}</script></body></html>"
        )
        return status, {"Content-Type": HTML}, doc.encode()

    def _nav(self) -> str:
        items = "".join(
            f'<li><a href="{h}">{t}</a></li>'
            for h, t in (
                ("/feed/", "Home"),
                ("/mynetwork/", "My Network"),
                ("/jobs/", "Jobs"),
                ("/messaging/", "Messaging"),
                ("/notifications/", "Notifications"),
            )
        )
        return (
            f'<header class="gbar"><nav aria-label="Primary Navigation"><ul class="gl">{items}'
            f'<li><button type="button" class="me"><img alt="{OWNER}" src="data:,">Me</button></li>'
            f'</ul></nav><input role="combobox" aria-label="Search" placeholder="Search"></header>'
        )

    # ------------------------------------------------------------------ signed-out pages
    def home(self, req: Request) -> Response:
        if self._session(req, count=False):
            return self._redirect("/feed/")
        return self._page(
            "LinkedIn: Log In or Sign Up",
            '<main><h1>Welcome to your professional community</h1><a href="/login">Sign in</a></main>',
            False,
        )

    def login_page(self, req: Request, error: str = "") -> Response:
        if not error and self._session(req, count=False):
            return self._redirect("/feed/")
        redirect = parse_qs(req.query).get("session_redirect", [""])[0]
        if self.remembered and not error and "another=1" not in req.query:
            return self._welcome_back(redirect)
        err = f'<div role="alert" class="fe">{E(error)}</div>' if error else ""
        body = (
            '<main class="lw"><div class="cardx"><h1>Sign in</h1><p>Stay updated on your professional world</p>'
            '<div class="alt"><button type="button" class="apl">Sign in with Apple</button>'
            '<button type="button">Continue with Google</button></div><p class="or">or</p>'
            f'<form method="post" action="/checkpoint/lg/login-submit" class="lf">{err}'
            f'<input type="hidden" name="session_redirect" value="{E(redirect)}">'
            '<div class="fld"><input id="username" name="session_key" type="text" autocomplete="username"'
            ' aria-label="Email or phone"><label for="username">Email or phone</label></div>'
            '<div class="fld"><input id="password" name="session_password" type="password"'
            ' aria-label="Password"><label for="password">Password</label></div>'
            '<a href="/checkpoint/rp/request-password-reset">Forgot password?</a>'
            '<div class="go"><button type="submit" aria-label="Sign in" class="pri">Sign in</button></div>'
            '</form></div><p>New to LinkedIn? <a href="/signup">Join now</a></p></main>'
        )
        return self._page("LinkedIn Login, Sign in | LinkedIn", body, False, kind="login")

    def _welcome_back(self, redirect: str) -> Response:
        body = (
            '<main class="wb"><h1>Welcome Back</h1><ul role="list"><li><button type="button" class="mcard" '
            f'data-me="1"><img alt="" src="data:,"><span>{OWNER}</span><span>a***@example.org</span></button>'
            '</li></ul><form method="post" action="/checkpoint/lg/login-submit" class="pwf" hidden>'
            f'<input type="hidden" name="session_key" value="{E(USERNAME)}">'
            f'<input type="hidden" name="session_redirect" value="{E(redirect)}">'
            '<label for="password">Password</label><input id="password" name="session_password" type="password">'
            '<button type="submit">Sign in</button></form>'
            f'<a href="/login?another=1&session_redirect={quote(redirect)}">Sign in using another account</a>'
            "</main>"
        )
        return self._page("LinkedIn Login, Sign in | LinkedIn", body, False, kind="login")

    def login_submit(self, req: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs(req.body.decode()).items()}
        if form.get("session_key") != USERNAME or form.get("session_password") != PASSWORD:
            return self.login_page(req, "Wrong email or password. Try again or create an account.")
        target = form.get("session_redirect") or "/feed/"
        if self.challenge_logins:
            cid = "AQH" + secrets.token_hex(8)
            self.pending_challenges.add(cid)
            return self._redirect(f"/checkpoint/challenge/{cid}?ut=x&session_redirect={quote(target)}")
        self.logins += 1
        if self.interstitial:
            return self._redirect(f"/check/add-phone?session_redirect={quote(target)}", self.new_session())
        return self._redirect(target, self.new_session())

    def add_phone(self, req: Request) -> Response:
        if not self._session(req):
            return self._wall(req)
        target = parse_qs(req.query).get("session_redirect", ["/feed/"])[0]
        body = (
            '<main class="ph2"><h1>Add a phone number for security</h1><p>We’ll text you a code if you ever '
            'lose access to your account.</p><form><input type="tel" aria-label="Phone number">'
            f'<button type="button">Next</button></form><a href="{E(target)}" role="button">Skip</a></main>'
        )
        return self._page("Add phone | LinkedIn", body, False)

    def challenge(self, req: Request) -> Response:
        cid = req.path.rstrip("/").rsplit("/", 1)[-1]
        if req.method == "POST" and cid in self.pending_challenges:
            pin = parse_qs(req.body.decode()).get("pin", [""])[0]
            if pin == "424242":
                self.pending_challenges.discard(cid)
                self.logins += 1
                return self._redirect("/feed/", self.new_session())
        body = (
            '<main class="chk"><h1>Let’s do a quick security check</h1>'
            "<p>Enter the 6-digit code we sent to a***@example.org</p>"
            f'<form method="post" action="/checkpoint/challenge/{E(cid)}">'
            '<input name="pin" inputmode="numeric" aria-label="Enter code" maxlength="6">'
            '<button type="submit">Submit</button></form></main>'
        )
        return self._page("Security Verification | LinkedIn", body, False, kind="checkpoint")

    def authwall(self, req: Request) -> Response:
        target = parse_qs(req.query).get("sessionRedirect", [""])[0]
        if self._session(req, count=False):
            return self._redirect(target or "/feed/")
        body = (
            '<main class="aw"><h1>Join LinkedIn to see who you already know</h1>'
            f'<a href="/login?session_redirect={quote(target)}">Sign in</a>'
            '<a href="/signup">Join now</a></main>'
        )
        return self._page("Sign Up | LinkedIn", body, False, kind="authwall")

    def api_operator(self, req: Request) -> Response:
        self.logins += 1
        headers = {
            "Content-Type": "application/json",
            "Set-Cookie": f"{COOKIE}={self.new_session()}; Path=/; HttpOnly; SameSite=Lax",
        }
        return 200, headers, b"{}"

    def _wall(self, req: Request, authwall: bool = False) -> Response:
        here = req.path + (f"?{req.query}" if req.query else "")
        if self.wall_kind == "checkpoint":  # a security check in the middle of a session
            cid = "AQH" + secrets.token_hex(8)
            self.pending_challenges.add(cid)
            return self._redirect(f"/checkpoint/challenge/{cid}?session_redirect={quote(here)}")
        if authwall:
            return self._redirect(
                f"/authwall?trk=public_profile&sessionRedirect={quote(self.server.url(here))}"
            )
        return self._redirect(f"/login?session_redirect={quote(here)}")

    # ------------------------------------------------------------------ signed-in pages
    def feed(self, req: Request) -> Response:
        if not self._session(req):
            return self._wall(req)
        posts = "".join(
            f'<article class="fp"><a href="/in/{quote(m.slug)}/">{E(m.name)}</a><p>{E(m.headline)}</p>'
            f'<button type="button" aria-label="Invite {E(m.name)} to connect">Connect</button></article>'
            for m in list(self.members.values())[:2]
        )
        return self._page(
            "Feed | LinkedIn",
            f'<main aria-label="Main Feed" class="fm"><h2 class="sr">Main Feed</h2>{posts}</main>',
            True,
        )

    def matching(self, keywords: str, network: list[str] | None = None) -> list[Member]:
        """What a search shows, in order, over all its pages."""
        words = keywords.lower().split()
        return [m for m in self.members.values() if self._matches(m, words, network or [])]

    def _matches(self, m: Member, words: list[str], network: list[str]) -> bool:
        hay = f"{m.name} {m.headline} {m.location}".lower()
        degree = {1: "F", 2: "S", 3: "O"}[m.degree]
        return all(w in hay for w in words) and (not network or degree in network)

    def search(self, req: Request) -> Response:
        if not self._session(req):
            return self._wall(req)
        q = parse_qs(req.query)
        keywords = q.get("keywords", [""])[0]
        self.searches.append(keywords)
        try:
            network = json.loads(q.get("network", ["[]"])[0])
        except ValueError:
            network = []
        page = max(int(q.get("page", ["1"])[0] or 1), 1)
        found = self.matching(keywords, network)
        chunk = found[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        title = f"{keywords} | Search | LinkedIn"
        if not chunk:
            body = (
                '<main class="sm"><div class="empty"><h2>No results found</h2>'
                "<p>Try shortening or rephrasing your search.</p></div></main>"
            )
            return self._page(title, body, True)
        items = "".join(self._result(m) for m in chunk)
        more = page * PAGE_SIZE < len(found)
        nxt = (
            f'<button type="button" aria-label="Next" class="pgn" data-go="{page + 1}"'
            f"{'' if more else ' disabled'}><span>Next</span></button>"
        )
        spa = ' data-spa="1"' if self.spa_pages else ""
        body = (
            f'<main class="sm"{spa}><div class="filters"><button type="button">People</button>'
            f'<button type="button">Connections</button></div>'
            f'<h2 class="cnt">About {len(found)} results</h2>'
            f'<div class="rl"><ul role="list" class="rlist">{items}</ul></div>'
            f'<div class="pager"><button type="button" aria-label="Previous"'
            f'{" disabled" if page == 1 else ""} data-go="{page - 1}"><span>Previous</span></button>'
            f'<ul class="pages"><li><button type="button" aria-current="true">{page}</button></li></ul>'
            f"{nxt}</div></main>"
        )
        if "_frag=1" in req.query:  # the in-page navigation's fetch: the main's content only
            inner = body[body.index(">") + 1 : -len("</main>")]
            return 200, {"Content-Type": HTML}, inner.encode()
        return self._page(title, body, True)

    def _result(self, m: Member) -> str:
        if m.out_of_network:
            return (
                '<li class="rc"><div class="ent"><div class="mid"><div class="ttl"><span class="tt">'
                '<a href="/search/results/people/headless?origin=SWITCH_SEARCH_VERTICAL" class="lnk">'
                '<span dir="ltr"><span aria-hidden="true">LinkedIn Member</span></span></a></span></div>'
                f'<div class="sub1">{E(m.headline)}</div><div class="sub2">{E(m.location)}</div></div>'
                "</div></li>"
            )
        href = self.server.url(f"/in/{quote(m.slug)}?miniProfileUrn=urn%3Ali%3Afs_miniProfile%3A{m.urn}")
        deg = {1: "1st", 2: "2nd", 3: "3rd+"}[m.degree]
        action = (
            f'<button type="button" aria-label="Message {E(m.name)}">Message</button>'
            if m.degree == 1
            else f'<button type="button" aria-label="Invite {E(m.name)} to connect">Connect</button>'
        )
        return (
            f'<li class="rc"><div class="ent"><div class="pic"><a href="{E(href)}" tabindex="-1">'
            f'<img alt="{E(m.name)}" src="data:,"></a></div><div class="mid"><div class="ttl">'
            f'<span class="tt"><a href="{E(href)}" class="lnk"><span dir="ltr">'
            f'<span aria-hidden="true"><!---->{E(m.name)}<!----></span>'
            f'<span class="sr"><!---->View {E(m.name)}’s profile<!----></span></span></a>'
            f'<span class="badge"><span class="sr">• {deg} degree connection</span>'
            f'<span aria-hidden="true">• {deg}</span></span></span></div>'
            f'<div class="sub1">{E(m.headline)}</div><div class="sub2">{E(m.location)}</div></div>'
            f'<div class="act">{action}</div></div></li>'
        )

    def profile(self, req: Request) -> Response:
        slug = unquote(req.path[len("/in/") :].strip("/"))
        if not self._session(req):
            if self.guest_profiles and slug in self.members:
                return self._guest_profile(self.members[slug])
            return self._wall(req, authwall=True)
        by_urn = {m.urn: m for m in self.members.values()}
        if slug in by_urn:
            return 301, {"Location": f"/in/{quote(by_urn[slug].slug)}/", "Content-Type": HTML}, b""
        member = self.members.get(slug)
        if member is None:
            body = (
                '<main class="nf"><section><img alt="" src="data:,"><h1>This page doesn’t exist</h1>'
                "<p>Please check your URL or return to LinkedIn home.</p>"
                '<a href="/feed/">Go to your feed</a></section></main>'
            )
            return self._page("Page not found | LinkedIn", body, True, status=404)
        return self._page(f"(3) {member.name} | LinkedIn", self._profile_body(member), True)

    def _guest_profile(self, m: Member) -> Response:
        first = E(m.name.split()[0])
        body = (
            f'<main class="pub"><section class="topg"><h1>{E(m.name)}</h1><h2>{E(m.headline)}</h2>'
            f"<div>{E(m.location)} · 500+ connections</div>"
            f'<a href="/login?session_redirect={quote("/in/" + m.slug + "/")}">Sign in to view {first}’s full '
            f'profile</a><a href="/signup">Join now</a></section>{self._experience(m)}</main>'
        )
        return self._page(f"{m.name} - {m.headline} | LinkedIn", body, False, kind="guest")

    def _actions(self, m: Member, sticky: bool) -> str:
        n = E(m.name)
        nonotes = ' data-nonotes="1"' if self.notes_left == 0 else ""
        nonotes += ' data-email="1"' if m.email_required else ""
        pending = m.slug in {s for s, _ in self.invitations}
        buttons = []
        if m.degree == 1 or m.inmail:
            buttons.append(
                f'<button type="button" aria-label="Message {n}" class="b pri" data-msg="{E(m.slug)}">'
                f"<span>Message</span></button>"
            )
        if pending:
            buttons.append(
                f'<button type="button" class="b" aria-label="Pending, click to withdraw '
                f'invitation sent to {n}"><span>Pending</span></button>'
            )
        elif m.connect == "primary" and m.degree > 1:
            buttons.append(
                f'<button type="button" aria-label="Invite {n} to connect" class="b pri" '
                f'data-inv="{E(m.slug)}" data-name="{n}"{nonotes}><span>Connect</span></button>'
            )
        elif m.degree > 1:
            buttons.append(
                f'<button type="button" aria-label="Follow {n}" class="b"><span>Follow</span></button>'
            )
        items = [
            f'<div role="button" tabindex="0" class="mi" aria-label="Send profile of {n} in a message">'
            f"<span>Send profile in a message</span></div>",
            '<div role="button" tabindex="0" class="mi" aria-label="Save to PDF"><span>Save to PDF</span></div>',
        ]
        if m.connect == "more" and m.degree > 1 and not pending:
            items.append(
                f'<div role="button" tabindex="0" class="mi" aria-label="Invite {n} to connect" '
                f'data-inv="{E(m.slug)}" data-name="{n}"{nonotes}><span>Connect</span></div>'
            )
        if m.degree == 1:
            items.append(
                f'<div role="button" tabindex="0" class="mi" aria-label="Remove your connection to {n}">'
                f"<span>Remove Connection</span></div>"
            )
        items.append(
            f'<div role="button" tabindex="0" class="mi" aria-label="Report or block {n}">'
            f"<span>Report / Block</span></div>"
        )
        more = (
            f'<div class="dd"><button type="button" aria-label="More actions" class="b mt" aria-expanded="false">'
            f'<span>More</span></button><div class="menu" hidden><div class="mlist">{"".join(items)}</div></div></div>'
        )
        cls = "acts gone" if sticky else "acts"
        return f'<div class="{cls}">{"".join(buttons)}{more}</div>'

    def _experience(self, m: Member) -> str:
        rows = []
        jobs = list(m.jobs)
        if m.grouped and len(jobs) >= 2:
            group = [j for j in jobs if j.company == jobs[0].company]
            jobs = jobs[len(group) :]
            first = group[-1].dates.split(" - ")[0]
            total = _duration(f"{first} - {group[0].dates.split(' - ')[1]}")
            subs = "".join(
                f'<li class="sub"><div class="ent2"><div class="t b">{_twice(j.title)}</div>'
                f'<span class="l">{_twice(j.kind)}</span>'
                f'<span class="l lt">{_twice(f"{j.dates} · {_duration(j.dates)}")}</span></div></li>'
                for j in group
            )
            rows.append(
                f'<li class="row"><div class="ent2"><a href="/company/{quote(group[0].company)}/">'
                f'<div class="t b">{_twice(group[0].company)}</div>'
                f'<span class="l">{_twice(f"Full-time · {total}")}</span></a>'
                f'<div class="nest"><ul role="list">{subs}</ul></div></div></li>'
            )
        for j in jobs:
            place = f'<span class="l lt">{_twice(j.place)}</span>' if j.place else ""
            rows.append(
                f'<li class="row"><div class="ent2"><div class="logo"><img alt="{E(j.company)} logo" src="data:,">'
                f'</div><div class="txt"><div class="t b">{_twice(j.title)}</div>'
                f'<span class="l">{_twice(f"{j.company} · {j.kind}")}</span>'
                f'<span class="l lt">{_twice(f"{j.dates} · {_duration(j.dates)}")}</span>{place}</div></div></li>'
            )
        return self._card("Experience", "".join(rows))

    @staticmethod
    def _card(title: str, rows: str) -> str:
        anchor = title.lower().replace(" ", "_")
        return (
            f'<section class="card"><div id="{anchor}-x" class="anc"></div><div class="hd"><h2>'
            f'<span aria-hidden="true">{E(title)}</span><span class="sr">{E(title)}</span></h2></div>'
            f'<div class="lo"><ul role="list" class="pl">{rows}</ul></div></section>'
        )

    def _profile_body(self, m: Member) -> str:
        experience = self._experience(m)
        if self.lazy_sections:  # a tall Activity pushes it below the fold; it loads when scrolled to
            experience = (
                f'<div style="height:1400px" class="feedpad"></div>'
                f'<div class="lazy" data-lazy="{E(m.slug)}" style="min-height:40px"></div>'
            )
        n = E(m.name)
        deg = {1: "1st", 2: "2nd", 3: "3rd"}[m.degree]
        top = (
            f'<section class="card top"><div class="cover"></div><div class="ph"><img alt="{n}" src="data:,">'
            f'</div><div class="info"><div class="nm"><a href="/in/{quote(m.slug)}/overlay/about-this-profile/">'
            f'<h1 class="big">{n}</h1></a><span class="deg"><span class="sr">· {deg} degree connection</span>'
            f'<span aria-hidden="true">· {deg}</span></span></div>'
            f'<div class="hl">{E(m.headline)}</div><div class="loc"><span class="sm">{E(m.location)}</span>'
            f' <a href="/in/{quote(m.slug)}/overlay/contact-info/">Contact info</a></div>'
            f'<ul class="stats"><li>500+ connections</li></ul></div>{self._actions(m, False)}</section>'
        )
        sticky = f'<div class="stk"><span>{n}</span>{self._actions(m, True)}</div>'
        about = self._card(
            "About",
            f'<li class="row"><div class="t clamp">{_twice(ABOUT)}<button type="button" class="more2">'
            "…see more</button></div></li>",
        )
        activity = self._card(
            "Activity",
            f'<li class="row"><div class="t b">{_twice("Lead Engineer wanted")}</div>'
            f'<span class="l">{_twice("Hooli · Full-time")}</span></li>',
        )
        education = self._card(
            "Education",
            '<li class="row"><div class="t b">'
            f'{_twice("Université Paris-Saclay")}</div><span class="l">{_twice("MSc")}</span>'
            f'<span class="l lt">{_twice("2012 - 2014")}</span></li>',
        )
        others = [
            o for o in self.members.values() if o.slug != m.slug and o.slug in ("bob-side", "carla-side")
        ]
        aside = "".join(
            f'<li class="po"><a href="/in/{quote(o.slug)}/">{_twice(o.name)}</a><div>{E(o.headline)}</div>'
            + (
                f'<button type="button" aria-label="Message {E(o.name)}" data-msg="{E(o.slug)}">Message</button>'
                if o.degree == 1
                else f'<button type="button" aria-label="Invite {E(o.name)} to connect" data-inv="{E(o.slug)}" '
                f'data-name="{E(o.name)}">Connect</button>'
            )
            + "</li>"
            for o in others
        )
        return (
            f'<div class="wrap">{sticky}<main class="pm">{top}{about}{activity}{experience}'
            f'{education}</main><aside class="side" aria-label="More profiles for you"><section>'
            f'<h2>More profiles for you</h2><ul role="list">{aside}</ul></section></aside></div>'
        )

    # ------------------------------------------------------------------ the overlay and the APIs
    def _bubble(self, slug: str) -> str:
        m = self.members[slug]
        items = []
        thread = self.thread(slug)
        for i, msg in enumerate(thread):
            who = OWNER if msg.mine else m.name
            paras = "<p>" + "<br>".join(E(line) for line in msg.text.split("\n")) + "</p>"
            # As on the real site, a run of messages from one sender shows the name once, on the first.
            meta = (
                f'<div class="meta"><span class="sr">{E(who)} sent the following messages at 10:{i % 60:02d} AM'
                f'</span><a href="#" class="who">{E(who)}</a><time>10:{i % 60:02d} AM</time></div>'
                if i == 0 or thread[i - 1].mine != msg.mine
                else ""
            )
            items.append(f'<li class="ev">{meta}<div class="body">{paras}</div></li>')
        draft = self.drafts.get(slug, "")
        enter = "" if self.enter_sends else ' data-enter="0"'
        return (
            f'<section class="bb" data-conv="{E(slug)}" aria-label="Conversation with {E(m.name)}">'
            f'<header class="bh"><h2><a href="/in/{quote(slug)}/">{E(m.name)}</a></h2>'
            f'<button type="button" aria-label="Close your conversation with {E(m.name)}" data-close="{E(slug)}">'
            f'×</button></header><div class="lst"><ul role="list">{"".join(items)}</ul></div>'
            f'<form class="fm2"{enter}><div class="ed" contenteditable="true" role="textbox" aria-multiline="true"'
            f' aria-label="Write a message…"><p>{E(draft) if draft else "<br>"}</p></div><div class="foot">'
            f'<button type="button" aria-label="Attach a file">📎</button>'
            f'<button type="submit" class="snd"{"" if draft else " disabled"}>Send</button>'
            f'<button type="button" aria-label="Open send options">⋯</button></div></form></section>'
        )

    def _bubbles_html(self) -> str:
        inner = "".join(self._bubble(s) for s in self.bubbles)
        return (
            f'<aside class="ov" id="ovl"><div class="ml"><button type="button">Messaging</button></div>'
            f"{inner}</aside>"
        )

    def _json(self, req: Request) -> dict[str, str]:
        try:
            data = json.loads(req.body or b"{}")
        except ValueError:
            data = {}
        return data if isinstance(data, dict) else {}

    def api_invite(self, req: Request) -> Response:
        if not self._session(req, count=False):
            return 401, {"Content-Type": "application/json"}, b'{"status": 401}'
        data = self._json(req)
        slug, note = data.get("slug", ""), data.get("note")
        if slug in self.members and self.members[slug].email_required and not data.get("email"):
            return 400, {"Content-Type": "application/json"}, b'{"status": 400}'
        if self.weekly_limit:
            return 429, {"Content-Type": "application/json"}, b'{"status": 429}'
        if note and self.notes_left == 0:
            return 403, {"Content-Type": "application/json"}, b'{"status": 403}'
        with self.lock:
            if slug in self.members and slug not in {s for s, _ in self.invitations}:
                self.invitations.append((slug, note or None))
                if note and self.notes_left is not None:
                    self.notes_left -= 1
        return 200, {"Content-Type": "application/json"}, b"{}"

    def api_message(self, req: Request) -> Response:
        if not self._session(req, count=False):
            return 401, {"Content-Type": "application/json"}, b'{"status": 401}'
        data = self._json(req)
        slug, text = data.get("slug", ""), data.get("text", "")
        if slug not in self.members or not text.strip():
            return 400, {"Content-Type": "application/json"}, b"{}"
        with self.lock:
            self.messages.setdefault(slug, []).append(Message(slug, True, text.strip()))
            self.drafts.pop(slug, None)
        return 200, {"Content-Type": HTML}, self._bubble(slug).encode()

    def api_section(self, req: Request) -> Response:
        if not self._session(req, count=False):
            return 401, {"Content-Type": "application/json"}, b'{"status": 401}'
        m = self.members.get(parse_qs(req.query).get("slug", [""])[0])
        if m is None:
            return 404, {"Content-Type": "application/json"}, b"{}"
        return 200, {"Content-Type": HTML}, self._experience(m).encode()

    def api_bubble(self, req: Request) -> Response:
        if not self._session(req, count=False):
            return 401, {"Content-Type": "application/json"}, b'{"status": 401}'
        data = self._json(req)
        slug, op = data.get("slug", ""), data.get("op", "open")
        m = self.members.get(slug)
        if m is None:
            return 404, {"Content-Type": "application/json"}, b"{}"
        with self.lock:
            if slug in self.bubbles:
                self.bubbles.remove(slug)
            if op == "open" and m.degree == 1:
                self.bubbles.append(slug)
        if op == "open" and m.degree != 1:
            upsell = (
                f'<div role="dialog" aria-labelledby="ups-h" class="ups"><h2 id="ups-h">Message {E(m.name)}'
                ' with InMail</h2><p>Reach anyone with Premium.</p><a href="/premium/">Try Premium for '
                '₹0</a><button type="button" aria-label="Dismiss" data-dismiss="1">×</button></div>'
            )
            return 200, {"Content-Type": HTML}, upsell.encode()
        return 200, {"Content-Type": HTML}, (self._bubble(slug) if op == "open" else "").encode()

    def url(self, path: str) -> str:
        return self.server.url(path)

    def profile_url(self, slug: str) -> str:
        return self.server.url(f"/in/{quote(slug)}/")


SCRIPT = r"""
(() => {
const post = (url, data) => fetch(url, {method: 'POST', headers: {'Content-Type': 'application/json'},
  body: JSON.stringify(data)});
const toast = (text) => { const t = document.createElement('div'); t.setAttribute('role', 'alert');
  t.className = 'tst'; t.textContent = text; document.body.appendChild(t); };
const overlay = () => { let o = document.getElementById('ovl'); if (!o) { o = document.createElement('aside');
  o.id = 'ovl'; o.className = 'ov'; document.body.appendChild(o); } return o; };
const lines = (ed) => { const out = [];
  for (const block of ed.childNodes) {
    if (block.nodeType === 3) { out.push(block.textContent); continue; }
    const parts = [''];
    for (const n of block.childNodes) { if (n.nodeName === 'BR') parts.push(''); else parts[parts.length - 1] += n.textContent; }
    if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
    out.push(...parts);
  }
  return out.join('\n').replace(/\u00a0/g, ' ').replace(/^\s+|\s+$/g, ''); };
const send = async (form) => {
  const conv = form.closest('[data-conv]'); const ed = form.querySelector('[contenteditable]');
  const text = lines(ed); if (!text) return;
  const r = await post('/voyager/api/message', {slug: conv.dataset.conv, text});
  if (!r.ok) { toast('Something went wrong. Try again.'); return; }
  const holder = document.createElement('div'); holder.innerHTML = await r.text();
  conv.replaceWith(holder.firstElementChild);
};
const invite = (el) => {
  const slug = el.dataset.inv, name = el.dataset.name;
  const d = document.createElement('div'); d.className = 'mdl'; d.setAttribute('role', 'dialog');
  d.setAttribute('aria-labelledby', 'inv-h');
  d.innerHTML = '<div class="mh"><h2 id="inv-h">Add a note to your invitation?</h2>' +
    '<button type="button" aria-label="Dismiss" class="x">×</button></div><div class="mb"><p>Personalize your ' +
    'invitation to ' + name.replace(/[<&]/g, '') + ' by adding a note. LinkedIn members are more likely to ' +
    'accept invitations that include a note.</p></div><div class="mf"><button type="button" aria-label="Add a note"' +
    ' class="an">Add a note</button><button type="button" aria-label="Send without a note" class="sw">' +
    'Send without a note</button></div>';
  document.body.appendChild(d);
  const done = async (note) => {
    const mail = d.querySelector('input[type=email]');
    const r = await post('/voyager/api/invite', {slug, note, email: mail ? mail.value : null});
    d.remove();
    if (r.status === 429) { const w = document.createElement('div'); w.setAttribute('role', 'dialog');
      w.setAttribute('aria-labelledby', 'wl-h'); w.className = 'mdl';
      w.innerHTML = '<h2 id="wl-h">You’ve reached the weekly invitation limit</h2><p>Invitations are limited ' +
        'each week. Try again next week.</p><button type="button" data-dismiss="1">Got it</button>';
      document.body.appendChild(w); return; }
    if (!r.ok) { toast('Something went wrong. Try again.'); return; }
    toast('Your invitation to ' + name + ' was sent.');
    document.querySelectorAll('[data-inv="' + CSS.escape(slug) + '"]').forEach((b) => {
      if (b.classList.contains('mi')) { const bar = b.closest('.acts'); b.remove(); if (!bar) return;
        const p = document.createElement('button'); p.type = 'button'; p.className = 'b';
        p.setAttribute('aria-label', 'Pending, click to withdraw invitation sent to ' + name);
        p.innerHTML = '<span>Pending</span>'; bar.prepend(p); return; }
      const p = document.createElement('button'); p.type = 'button'; p.className = b.className;
      p.setAttribute('aria-label', 'Pending, click to withdraw invitation sent to ' + name);
      p.innerHTML = '<span>Pending</span>'; b.replaceWith(p); });
  };
  d.querySelector('.x').onclick = () => d.remove();
  if (el.dataset.email) {
    d.querySelector('#inv-h').textContent = 'Invite ' + name + ' to connect';
    d.querySelector('.mb').innerHTML = '<p>To verify this member knows you, please enter their email to ' +
      'connect.</p><input type="email" aria-label="Email" autocomplete="off">';
    d.querySelector('.mf').innerHTML = '<button type="button" aria-label="Send invitation" class="si" disabled>' +
      'Send</button>';
    const mail = d.querySelector('input'), si = d.querySelector('.si');
    mail.addEventListener('input', () => { si.disabled = !/^[^@ ]+@[^@ ]+$/.test(mail.value); });
    si.onclick = () => done(null);
    return;
  }
  d.querySelector('.sw').onclick = () => done(null);
  d.querySelector('.an').onclick = () => {
    if (el.dataset.nonotes) {
      d.querySelector('.mb').innerHTML = '<h3>No free personalized invitations left</h3><p>You’ve used all ' +
        'your free personalized invitations for this month. Personalize every invitation with Premium.</p>' +
        '<a href="/premium/">Try Premium for ₹0</a>';
      d.querySelector('.an').remove(); return;
    }
    d.querySelector('.mb').innerHTML = '<p>Add a note</p><textarea maxlength="300" rows="5" ' +
      'placeholder="Ex: We know each other from…"></textarea><div class="cnt2">0/300</div>';
    d.querySelector('.mf').innerHTML = '<button type="button" class="cc">Cancel</button>' +
      '<button type="button" aria-label="Send invitation" class="si" disabled>Send</button>';
    const ta = d.querySelector('textarea'), si = d.querySelector('.si');
    ta.addEventListener('input', () => { si.disabled = !ta.value.trim();
      d.querySelector('.cnt2').textContent = ta.value.length + '/300'; });
    d.querySelector('.cc').onclick = () => d.remove();
    si.onclick = () => done(ta.value);
  };
};
document.addEventListener('click', async (ev) => {
  const t = ev.target.closest('button, [role=button]'); if (!t) return;
  if (t.dataset.go) { const u = new URL(location.href); u.searchParams.set('page', t.dataset.go);
    const main = t.closest('[data-spa]');
    if (!main) { location.href = u.toString(); return; }
    history.pushState({}, '', u.toString()); main.setAttribute('aria-busy', 'true');
    setTimeout(async () => { const f = new URL(u); f.searchParams.set('_frag', '1');
      const r = await fetch(f.toString()); main.innerHTML = await r.text(); main.removeAttribute('aria-busy');
      window.scrollTo(0, 0); }, 700);
    return; }
  if (t.classList.contains('mt')) { const m = t.parentElement.querySelector('.menu');
    m.hidden = !m.hidden; t.setAttribute('aria-expanded', String(!m.hidden)); return; }
  if (t.dataset.inv) { const m = t.closest('.menu'); if (m) m.hidden = true; invite(t); return; }
  if (t.dataset.msg) {
    const r = await post('/voyager/api/bubble', {slug: t.dataset.msg, op: 'open'});
    const holder = document.createElement('div'); holder.innerHTML = await r.text();
    const el = holder.firstElementChild; if (!el) return;
    if (el.dataset.conv) { const old = document.querySelector('[data-conv="' + CSS.escape(el.dataset.conv) + '"]');
      if (old) old.remove(); overlay().appendChild(el); } else document.body.appendChild(el);
    return; }
  if (t.dataset.close) { post('/voyager/api/bubble', {slug: t.dataset.close, op: 'close'});
    t.closest('[data-conv]').remove(); return; }
  if (t.dataset.me) { document.querySelector('.pwf').hidden = false; t.closest('ul').hidden = true; return; }
  if (t.dataset.dismiss) { t.closest('[role=dialog]').remove(); return; }
});
const lazy = new IntersectionObserver((entries) => { for (const e of entries) { if (!e.isIntersecting) continue;
  const el = e.target; lazy.unobserve(el);
  setTimeout(async () => { const r = await fetch('/voyager/api/section?slug=' + encodeURIComponent(el.dataset.lazy));
    const holder = document.createElement('div'); holder.innerHTML = await r.text();
    el.replaceWith(...holder.childNodes); }, 400); } });
document.querySelectorAll('[data-lazy]').forEach((el) => lazy.observe(el));
document.addEventListener('submit', (ev) => { if (ev.target.classList.contains('fm2')) {
  ev.preventDefault(); send(ev.target); } });
document.addEventListener('input', (ev) => { const ed = ev.target.closest && ev.target.closest('.ed');
  if (ed) ed.closest('form').querySelector('.snd').disabled = !lines(ed); });
document.addEventListener('keydown', (ev) => { const ed = ev.target.closest && ev.target.closest('.ed');
  if (ed && ev.key === 'Enter' && !ev.shiftKey && ed.closest('form').dataset.enter !== '0') {
    ev.preventDefault(); send(ed.closest('form')); } });
})();
"""
