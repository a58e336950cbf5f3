"""A local copy of the parts of LinkedIn that Lincoln uses, with the real site's structure.

Login (``#username``, ``#password``, "Sign in"), a security checkpoint, people search with a result count
and pagination ("Next"), profile pages in four states (Connect, Connect behind "More actions", Pending,
connected with "Message …") with the real top card, About and Experience sections (``#about`` and
``#experience`` anchors, ``aria-hidden`` text beside ``visually-hidden`` copies), a 404 page, the invitation
dialog ("Add a note", "Send without a note", ``#custom-message``, "Send invitation") and the messaging
overlay (Enter sends, Shift+Enter breaks the line, as on LinkedIn). It records what was sent, so tests assert
on the site's data, and :meth:`LinkedInSite.expected_profile` / :meth:`expected_search` give the right
answers for the mutation suite.

Mutation contract (zigral/testing/mutate.py): scripts reach their elements only through literal ids and
classes; ``data-shuffle`` marks containers whose order means nothing, ``data-helper`` the places where the
real site adds visually-hidden helper text.
"""

from __future__ import annotations

import html
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urlencode

from zigral.testing.server import FixtureServer, Request, Response

PAGE_SIZE = 3
# Ids the real site has and documents (form fields, section anchors): a mutation keeps them.
KEEP_IDS = frozenset({"username", "password", "about", "experience", "custom-message", "captcha-internal"})
MISSING_SLUGS = ("no-such-person",)


@dataclass
class Profile:
    slug: str
    name: str
    headline: str
    location: str
    about: str
    experience: list[tuple[str, str, str]]
    state: str  # connect | more | pending | connected
    thread: list[tuple[str, str]] = field(default_factory=list)  # (sender name, text), oldest first

    @property
    def degree(self) -> str:
        return "1st" if self.state == "connected" else "2nd"

    @property
    def messages(self) -> list[str]:
        """What we (the signed-in member) sent to this person."""
        return [text for sender, text in self.thread if sender != self.name]


@dataclass
class LinkedInSite:
    username: str = "ada@example.test"
    password: str = "correct horse battery staple"
    member_name: str = "Ada Lovelace"
    checkpoint_on_login: bool = False
    sessions: set[str] = field(default_factory=set)
    cleared_checkpoints: set[str] = field(default_factory=set)
    invitations: list[dict[str, str | None]] = field(default_factory=list)
    logins: int = 0
    invite_latency: float = 0.0
    message_latency: float = 0.0
    profiles: dict[str, Profile] = field(default_factory=dict)

    def __post_init__(self) -> None:
        people = [
            ("grace-hopper", "Grace Hopper", "Rear Admiral, US Navy", "Arlington, Virginia", "connect"),
            ("alan-turing", "Alan Turing", "Mathematician", "Manchester, England", "more"),
            (
                "katherine-johnson",
                "Katherine Johnson",
                "Mathematician at NASA",
                "Hampton, Virginia",
                "pending",
            ),
            (
                "charles-babbage",
                "Charles Babbage",
                "Inventor of the Difference Engine",
                "London, England",
                "connected",
            ),
            (
                "margaret-hamilton",
                "Margaret Hamilton",
                "Director of Software Engineering",
                "Boston",
                "connect",
            ),
            (
                "edsger-dijkstra",
                "Edsger Dijkstra",
                "Professor of Computer Science",
                "Austin, Texas",
                "connect",
            ),
            ("barbara-liskov", "Barbara Liskov", "Institute Professor at MIT", "Cambridge, MA", "more"),
            ("ada-yonath", "Ada Yonath", "Crystallographer", "Rehovot, Israel", "connected"),
        ]
        for slug, name, headline, location, state in people:
            self.profiles[slug] = Profile(
                slug,
                name,
                headline,
                location,
                f"{name} writes software and about software.",
                [(headline, "Acme Computing", "1970 - Present"), ("Researcher", "University", "1960 - 1970")],
                state,
            )
        self.profiles["ada-yonath"].thread.append(
            ("Ada Yonath", "Shalom Ada, shall we talk about ribosomes?")
        )

    # ------------------------------------------------------------------ the right answers
    def expected_profile(self, slug: str) -> dict[str, Any]:
        p = self.profiles[slug]
        experience = [{"title": t, "company": c, "dates": d} for t, c, d in p.experience]
        return {
            "name": p.name,
            "headline": p.headline,
            "location": p.location,
            "about": p.about,
            "current_position": experience[0] if experience else None,
            "experience": experience,
            "degree": p.degree,
            "can_connect": p.state in ("connect", "more"),
            "can_message": p.state == "connected",
            "pending": p.state == "pending",
        }

    def expected_search(self, limit: int) -> list[dict[str, str]]:
        return [
            {"name": p.name, "headline": p.headline, "location": p.location, "slug": p.slug}
            for p in list(self.profiles.values())[:limit]
        ]

    # ------------------------------------------------------------------ plumbing
    def install(self, server: FixtureServer) -> None:
        server.routes.update(
            {
                "/login": self.login_page,
                "/authwall": self.login_page,
                "/checkpoint/lg/login-submit": self.login_submit,
                "/checkpoint/challenge/": self.checkpoint,
                "/checkpoint/challenge/verify": self.checkpoint_verify,
                "/feed/": self.feed,
                "/search/results/people/": self.search,
                "/voyager/api/invite": self.api_invite,
                "/voyager/api/message": self.api_message,
            }
        )
        for slug in self.profiles:
            server.routes[f"/in/{slug}/"] = self.profile_page
        for slug in MISSING_SLUGS:
            server.routes[f"/in/{slug}/"] = self.not_found

    def _session(self, req: Request) -> str | None:
        cookie = SimpleCookie(req.headers.get("Cookie", ""))
        token = cookie["li_at"].value if "li_at" in cookie else None
        return token if token in self.sessions else None

    def _page(
        self, title: str, body: str, status: int = 200, headers: dict[str, str] | None = None
    ) -> Response:
        doc = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:0}} .global-nav{{background:#fff;border-bottom:1px solid #ccc;padding:8px}}
main{{max-width:900px;margin:16px auto}} [hidden]{{display:none !important}}
.visually-hidden{{position:absolute !important;width:1px;height:1px;overflow:hidden;clip:rect(1px,1px,1px,1px);white-space:nowrap}}
button{{margin:4px;padding:6px 12px;border-radius:16px;border:1px solid #0a66c2;background:#fff;color:#0a66c2}}
.artdeco-card{{border:1px solid #ddd;border-radius:8px;margin:8px 0;padding:12px}}</style>
</head><body>{body}</body></html>"""
        return status, {"Content-Type": "text/html; charset=utf-8", **(headers or {})}, doc.encode()

    def _redirect(self, location: str, headers: dict[str, str] | None = None) -> Response:
        return 302, {"Location": location, **(headers or {})}, b""

    def _nav(self) -> str:
        return f"""<header id="global-nav" class="global-nav"><nav class="global-nav__nav" aria-label="Primary Navigation">
<ul class="global-nav__primary-items" data-shuffle><li><a href="/feed/">Home</a></li>
<li><a href="/mynetwork/">My Network</a></li><li><a href="/messaging/">Messaging</a></li></ul>
<button class="global-nav__primary-link-me-menu-trigger" type="button">
<img class="global-nav__me-photo" alt="{html.escape(self.member_name)}" width="24" height="24"
 src="data:image/gif;base64,R0lGODlhAQABAAAAACw="> <span>Me</span></button></nav></header>"""

    # ------------------------------------------------------------------ login and checkpoint
    def login_page(self, req: Request) -> Response:
        if self._session(req):
            return self._redirect("/feed/")
        error = parse_qs(req.query).get("error", [""])[0]
        alert = f'<div id="error-for-password" role="alert">{html.escape(error)}</div>' if error else ""
        return self._page(
            "LinkedIn Login, Sign in | LinkedIn",
            f"""<main class="app__content"><h1 class="header__content__heading">Sign in</h1>
<form class="login__form" method="post" action="/checkpoint/lg/login-submit">
<div class="form__input--floating"><label for="username">Email or phone</label>
<input id="username" name="session_key" type="text" autocomplete="username"></div>
<div class="form__input--floating"><label for="password">Password</label>
<input id="password" name="session_password" type="password" autocomplete="current-password"></div>
{alert}<div class="login__form_action_container"><button class="btn__primary--large" type="submit"
 aria-label="Sign in">Sign in</button></div></form></main>""",
        )

    def login_submit(self, req: Request) -> Response:
        form = parse_qs(req.body.decode())
        self.logins += 1
        if (
            form.get("session_key", [""])[0] != self.username
            or form.get("session_password", [""])[0] != self.password
        ):
            return self._redirect("/login?error=Wrong+email+or+password.+Try+again+or+create+an+account.")
        token = secrets.token_hex(8)
        self.sessions.add(token)
        cookie = {"Set-Cookie": f"li_at={token}; Path=/; HttpOnly"}
        if self.checkpoint_on_login:
            return self._redirect("/checkpoint/challenge/", cookie)
        return self._redirect("/feed/", cookie)

    def checkpoint(self, req: Request) -> Response:
        return self._page(
            "Security Verification | LinkedIn",
            """<main><h1>Let's do a quick security check</h1>
<iframe id="captcha-internal" title="Captcha challenge" srcdoc="<p>I am not a robot</p>"></iframe>
<form method="post" action="/checkpoint/challenge/verify"><button type="submit" id="verify">Verify</button></form></main>""",
        )

    def checkpoint_verify(self, req: Request) -> Response:
        token = self._session(req)
        if token:
            self.cleared_checkpoints.add(token)
        return self._redirect("/feed/")

    def clear_checkpoints_out_of_band(self) -> None:
        """The site accepts every pending check server-side (solved in another tab, or on a phone)."""
        self.cleared_checkpoints.update(self.sessions)

    def _guard(self, req: Request, path: str) -> Response | None:
        token = self._session(req)
        if token is None:
            return self._redirect(f"/authwall?sessionRedirect={path}")
        if self.checkpoint_on_login and token not in self.cleared_checkpoints:
            return self._redirect("/checkpoint/challenge/")
        return None

    def feed(self, req: Request) -> Response:
        return self._guard(req, "/feed/") or self._page(
            "Feed | LinkedIn",
            self._nav()
            + """<main class="scaffold-layout__main" aria-label="Main Feed">
<h2 class="visually-hidden">Feed post</h2><div class="share-box-feed-entry__top-bar">
<button class="share-box-feed-entry__trigger" type="button">Start a post</button></div></main>""",
        )

    # ------------------------------------------------------------------ search
    def search(self, req: Request) -> Response:
        if (blocked := self._guard(req, "/search/results/people/")) is not None:
            return blocked
        query = parse_qs(req.query)
        page = int(query.get("page", ["1"])[0])
        people = list(self.profiles.values())
        chunk = people[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        items = "".join(self._result(p) for p in chunk)
        more = page * PAGE_SIZE < len(people)
        keep = {k: v[0] for k, v in query.items() if k != "page"}
        nxt = urlencode({**keep, "page": page + 1})
        next_button = (
            f"""<button aria-label="Next" class="artdeco-pagination__button--next" type="button"
 onclick="location.href='/search/results/people/?{nxt}'"><span class="artdeco-button__text">Next</span></button>"""
            if more
            else """<button aria-label="Next" class="artdeco-pagination__button--next" type="button" disabled>
<span class="artdeco-button__text">Next</span></button>"""
        )
        return self._page(
            "Search | LinkedIn",
            self._nav()
            + f"""<main class="scaffold-layout__main"><div class="search-results-container">
<h2 class="pb2 t-black--light t-14">About {len(people)} results</h2>
<ul class="reusable-search__entity-result-list list-style-none" role="list">{items}</ul>
<div class="artdeco-pagination">{next_button}</div></div></main>""",
        )

    def _result(self, p: Profile) -> str:
        n = html.escape(p.name)
        return f"""<li class="reusable-search__result-container"><div class="entity-result">
<div class="entity-result__item"><div class="entity-result__content"><div class="t-roman t-sans">
<div class="display-flex"><span class="entity-result__title-line"><span class="entity-result__title-text t-16">
<a class="app-aware-link" href="/in/{p.slug}/?miniProfileUrn=urn%3Ali%3Afs_miniProfile%3A{p.slug}"
 data-helper="View {n}&#8217;s profile"><span dir="ltr"><span aria-hidden="true">{n}</span><span
 class="visually-hidden">View {n}&#8217;s profile</span></span></a></span>
<span class="entity-result__badge t-14 t-normal t-black--light"><span aria-hidden="true">&bull; {p.degree}</span>
<span class="visually-hidden">{p.degree} degree connection</span></span></span></div></div>
<div class="entity-result__primary-subtitle t-14 t-black t-normal">{html.escape(p.headline)}</div>
<div class="entity-result__secondary-subtitle t-14 t-normal">{html.escape(p.location)}</div></div>
</div></div></li>"""

    # ------------------------------------------------------------------ profiles
    def not_found(self, req: Request) -> Response:
        if (blocked := self._guard(req, req.path)) is not None:
            return blocked
        return self._page(
            "Page not found | LinkedIn",
            self._nav()
            + """<main class="not-found"><h1 class="not-found__heading">This page doesn&#8217;t exist</h1>
<p>Please check your URL or return to LinkedIn home.</p><a href="/feed/">Go to your feed</a></main>""",
            status=404,
        )

    def _more(self, items: list[tuple[str, str]]) -> str:
        """The "More actions" dropdown (closed) with its menu items (accessible name, text)."""
        menu = "".join(
            f"""<li><div role="button" tabindex="0" aria-label="{label}" class="artdeco-dropdown__item"
 {'onclick="openInvite()"' if label.startswith("Invite ") else ""}><span>{text}</span></div></li>"""
            for label, text in items
        )
        return f"""<div class="artdeco-dropdown"><button aria-label="More actions" class="artdeco-dropdown__trigger"
 type="button" onclick="toggleMore()"><span>More</span></button>
<div class="artdeco-dropdown__content" hidden><ul>{menu}</ul></div></div>"""

    def _buttons(self, p: Profile) -> str:
        n = html.escape(p.name)
        report = (f"Report or block {n}", "Report / Block")
        if p.state == "connect":
            return f"""<button aria-label="Invite {n} to connect" class="artdeco-button artdeco-button--primary
 pvs-profile-actions__action" type="button" onclick="openInvite()"><span class="artdeco-button__text">Connect</span></button>
{self._more([(f"Follow {n}", "Follow"), report])}"""
        if p.state == "more":  # Connect only in the menu (LinkedIn's creators, members who prefer Follow)
            return self._more([(f"Follow {n}", "Follow"), (f"Invite {n} to connect", "Connect"), report])
        if p.state == "pending":
            return f"""<button aria-label="Pending, click to withdraw invitation sent to {n}" class="artdeco-button
 artdeco-button--muted" type="button"><span class="artdeco-button__text">Pending</span></button>"""
        return f"""<button aria-label="Message {n}" class="artdeco-button artdeco-button--primary" type="button"
 onclick="openMessages()"><span class="artdeco-button__text">Message</span></button>
{self._more([(f"Remove your connection to {n}", "Remove Connection"), report])}"""

    def _experience(self, p: Profile) -> str:
        items = []
        for i, (title, company, dates) in enumerate(p.experience):
            kind = " &middot; Full-time" if i == 0 else ""
            items.append(f"""<li class="artdeco-list__item pvs-list__item--line-separated"><div class="pvs-entity">
<a class="optional-action-target-wrapper" href="/company/{i}/"><img alt="{html.escape(company)} logo" width="48" height="48"
 src="data:image/gif;base64,R0lGODlhAQABAAAAACw="></a><div class="display-flex flex-column full-width">
<div class="display-flex align-items-center mr1 t-bold"><span aria-hidden="true">{html.escape(title)}</span>
<span class="visually-hidden">{html.escape(title)}</span></div>
<span class="t-14 t-normal"><span aria-hidden="true">{html.escape(company)}{kind}</span>
<span class="visually-hidden">{html.escape(company)}{kind}</span></span>
<span class="t-14 t-normal t-black--light"><span class="pvs-entity__caption-wrapper" aria-hidden="true">{html.escape(dates)} &middot; 10 yrs</span>
<span class="visually-hidden">{html.escape(dates)} &middot; 10 yrs</span></span></div></div></li>""")
        return "".join(items)

    def _thread(self, p: Profile) -> str:
        items, last = [], None
        for sender, text in p.thread:
            meta = ""
            if sender != last:
                s = html.escape(sender)
                meta = f"""<div class="msg-s-message-group__meta"><h3 class="visually-hidden">{s} sent the following messages at 9:41 AM</h3>
<a class="msg-s-event-listitem__link" href="/in/x/">
<img class="msg-s-event-listitem__profile-picture" alt="{s}" width="32" height="32"
 src="data:image/gif;base64,R0lGODlhAQABAAAAACw="></a><span class="msg-s-message-group__name">{s}</span>
<time class="msg-s-message-group__timestamp">9:41 AM</time></div>"""
            last = sender
            body = html.escape(text).replace("\n", "<br>")
            items.append(f"""<li class="msg-s-message-list__event">{meta}<div class="msg-s-event-listitem">
<div class="msg-s-event-listitem__message-bubble"><p class="msg-s-event-listitem__body">{body}</p></div></div></li>""")
        return "".join(items)

    def profile_page(self, req: Request) -> Response:
        slug = req.path.strip("/").split("/")[1]
        if (blocked := self._guard(req, req.path)) is not None:
            return blocked
        p = self.profiles[slug]
        n = html.escape(p.name)
        me = html.escape(self.member_name)
        script = f"""<script>
const slug = {json.dumps(p.slug)}, fullName = {json.dumps(p.name)}, me = {json.dumps(self.member_name)};
function toggleMore() {{ const m = document.querySelector('.artdeco-dropdown__content'); m.hidden = !m.hidden; }}
function openInvite() {{ document.getElementById('invite-modal').hidden = false; }}
function addNote() {{ document.getElementById('note-area').hidden = false;
  document.getElementById('add-note').hidden = true; document.getElementById('send-bare').hidden = true; }}
async function sendInvite(withNote) {{
  const note = withNote ? document.getElementById('custom-message').value : null;
  const r = await fetch('/voyager/api/invite', {{method: 'POST', body: JSON.stringify({{slug, note}})}});
  document.getElementById('invite-modal').hidden = true;
  if (!r.ok) return;  // as LinkedIn: Pending only once the invitation is stored
  document.querySelector('.pvs-profile-actions').innerHTML =
    `<button type="button" aria-label="Pending, click to withdraw invitation sent to ${{fullName}}">Pending</button>`;
}}
function openMessages() {{ document.getElementById('msg-overlay').hidden = false;
  document.querySelector('.msg-form__contenteditable').focus(); }}
async function sendMessage() {{
  const box = document.querySelector('.msg-form__contenteditable');
  const text = box.innerText.replace(/\\s+$/, '');
  if (!text) return;
  box.innerText = '';
  const r = await fetch('/voyager/api/message', {{method: 'POST', body: JSON.stringify({{slug, text}})}});
  if (!r.ok) return;
  const li = document.createElement('li');
  li.innerHTML = '<div class="msg-s-message-group__meta"><img class="msg-s-event-listitem__profile-picture" ' +
    'width="32" height="32" alt=""><span class="msg-s-message-group__name"></span></div>' +
    '<div class="msg-s-event-listitem"><p class="msg-s-event-listitem__body"></p></div>';
  li.querySelector('.msg-s-message-group__name').textContent = me;
  li.querySelector('.msg-s-event-listitem__profile-picture').alt = me;
  li.querySelector('.msg-s-event-listitem__body').innerText = text;
  document.querySelector('.msg-s-message-list-content').appendChild(li);
}}
document.querySelector('.msg-form__contenteditable').addEventListener('keydown', e => {{
  if (e.key === 'Enter' && !e.shiftKey) {{ e.preventDefault(); sendMessage(); }}  // LinkedIn: Enter sends
}});
</script>"""
        body = f"""{self._nav()}<main class="scaffold-layout__main">
<section class="artdeco-card pv-top-card"><div class="ph5 pb5"><div class="mt2 relative">
<div class="pv-text-details__left-panel"><div><h1 class="text-heading-xlarge inline t-24 break-words">{n}</h1></div>
<span class="distance-badge"><span class="visually-hidden">{p.degree} degree connection</span>
<span class="dist-value" aria-hidden="true">{p.degree}</span></span>
<div class="text-body-medium break-words">{html.escape(p.headline)}</div></div>
<div class="pv-text-details__left-panel mt2"><span class="text-body-small inline t-black--light break-words">{html.escape(p.location)}</span>
<span class="pv-text-details__separator t-black--light">&middot; <a href="/in/{p.slug}/overlay/contact-info/">Contact info</a></span></div>
<ul class="pv-top-card--list"><li class="text-body-small"><span class="t-bold">500+</span> connections</li></ul></div>
<div class="pvs-profile-actions" data-shuffle>{self._buttons(p)}</div></div></section>
<section class="artdeco-card pv-profile-card"><div id="about" class="pv-profile-card__anchor"></div>
<div class="pvs-header__container"><h2 class="pvs-header__title"><span aria-hidden="true">About</span>
<span class="visually-hidden">About</span></h2></div><div class="display-flex ph5 pv3"><div class="inline-show-more-text">
<span aria-hidden="true">{html.escape(p.about)}</span><span class="visually-hidden">{html.escape(p.about)}</span></div></div></section>
<section class="artdeco-card pv-profile-card"><div id="experience" class="pv-profile-card__anchor"></div>
<div class="pvs-header__container"><h2 class="pvs-header__title"><span aria-hidden="true">Experience</span>
<span class="visually-hidden">Experience</span></h2></div>
<div class="pvs-list__outer-container"><ul class="pvs-list">{self._experience(p)}</ul></div></section></main>
<div id="invite-modal" class="artdeco-modal send-invite" role="dialog" aria-labelledby="send-invite-modal" hidden>
<h2 id="send-invite-modal">Add a note to your invitation?</h2>
<button aria-label="Dismiss" class="artdeco-modal__dismiss" type="button"
 onclick="document.getElementById('invite-modal').hidden = true">&times;</button>
<div class="artdeco-modal__actionbar"><button id="add-note" aria-label="Add a note" type="button" onclick="addNote()">Add a note</button>
<button id="send-bare" aria-label="Send without a note" type="button" onclick="sendInvite(false)">Send without a note</button></div>
<div id="note-area" hidden><label for="custom-message">Add a note</label>
<textarea id="custom-message" name="message" maxlength="300"></textarea>
<button aria-label="Send invitation" type="button" onclick="sendInvite(true)">Send</button></div></div>
<aside id="msg-overlay" class="msg-overlay-conversation-bubble" aria-label="Messaging with {n}" hidden>
<header class="msg-overlay-bubble-header"><h2>{n}</h2></header>
<div class="msg-s-message-list"><ul class="msg-s-message-list-content">{self._thread(p)}</ul></div>
<form class="msg-form" onsubmit="event.preventDefault(); sendMessage();">
<div class="msg-form__contenteditable" contenteditable="true" role="textbox" aria-multiline="true"
 aria-label="Write a message&#8230;"></div>
<div class="msg-form__footer"><button class="msg-form__send-button artdeco-button" type="submit">Send</button></div>
</form><p class="visually-hidden">Signed in as {me}</p></aside>{script}"""
        return self._page(f"{p.name} | LinkedIn", body)

    def api_invite(self, req: Request) -> Response:
        data = json.loads(req.body)
        self.invitations.append({"slug": data["slug"], "note": data.get("note")})
        self.profiles[data["slug"]].state = "pending"
        time.sleep(self.invite_latency)  # lets a test kill the agent between "Send" and its ack
        return 200, {"Content-Type": "application/json"}, b"{}"

    def api_message(self, req: Request) -> Response:
        data = json.loads(req.body)
        self.profiles[data["slug"]].thread.append((self.member_name, data["text"]))
        time.sleep(self.message_latency)  # lets a test kill the agent right after "Send"
        return 200, {"Content-Type": "application/json"}, b"{}"


def normalised(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()
