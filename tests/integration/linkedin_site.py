"""A local copy of the parts of LinkedIn that Lincoln uses, with their structure (roles, labels, ids).

Login (``#username``, ``#password``, "Sign in"), a security checkpoint, people search with pagination
("Next"), profile pages in four states (Connect, Connect behind "More actions", Pending, connected with
"Message …"), the invitation dialog ("Add a note", "Send without a note", ``#custom-message``, "Send
invitation") and the messaging box. It records what was sent, so tests assert on the site's data.
"""

from __future__ import annotations

import html
import json
import secrets
import time
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from urllib.parse import parse_qs

from .fixture_server import FixtureServer, Request, Response

PAGE_SIZE = 3


@dataclass
class Profile:
    slug: str
    name: str
    headline: str
    location: str
    about: str
    experience: list[tuple[str, str, str]]
    state: str  # connect | more | pending | connected
    messages: list[str] = field(default_factory=list)

    @property
    def degree(self) -> str:
        return "1st" if self.state == "connected" else "2nd"


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

    def _session(self, req: Request) -> str | None:
        cookie = SimpleCookie(req.headers.get("Cookie", ""))
        token = cookie["li_at"].value if "li_at" in cookie else None
        return token if token in self.sessions else None

    def _page(
        self, title: str, body: str, status: int = 200, headers: dict[str, str] | None = None
    ) -> Response:
        doc = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:0}} #global-nav{{background:#fff;border-bottom:1px solid #ccc;padding:8px}}
main{{max-width:900px;margin:16px auto}} .artdeco-dropdown__content[hidden], [role=dialog][hidden]{{display:none}}
button{{margin:4px;padding:6px 12px;border-radius:16px;border:1px solid #0a66c2;background:#fff;color:#0a66c2}}</style>
</head><body>{body}</body></html>"""
        return status, {"Content-Type": "text/html; charset=utf-8", **(headers or {})}, doc.encode()

    def _redirect(self, location: str, headers: dict[str, str] | None = None) -> Response:
        return 302, {"Location": location, **(headers or {})}, b""

    def _nav(self) -> str:
        return f"""<header id="global-nav"><nav aria-label="Primary Navigation">
<a href="/feed/">Home</a> <a href="/mynetwork/">My Network</a>
<button class="global-nav__primary-link-me-menu-trigger" type="button">
<img class="global-nav__me-photo" alt="{html.escape(self.member_name)}" width="24" height="24"
 src="data:image/gif;base64,R0lGODlhAQABAAAAACw="> Me</button></nav></header>"""

    # ------------------------------------------------------------------ login and checkpoint
    def login_page(self, req: Request) -> Response:
        if self._session(req):
            return self._redirect("/feed/")
        error = parse_qs(req.query).get("error", [""])[0]
        alert = f'<div id="error-for-password" role="alert">{html.escape(error)}</div>' if error else ""
        return self._page(
            "LinkedIn Login, Sign in | LinkedIn",
            f"""<main><h1>Sign in</h1><form method="post" action="/checkpoint/lg/login-submit">
<label for="username">Email or phone</label><input id="username" name="session_key" type="text">
<label for="password">Password</label><input id="password" name="session_password" type="password">
{alert}<button type="submit" aria-label="Sign in">Sign in</button></form></main>""",
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

    def _guard(self, req: Request, path: str) -> Response:
        token = self._session(req)
        if token is None:
            return self._redirect(f"/authwall?sessionRedirect={path}")
        if self.checkpoint_on_login and token not in self.cleared_checkpoints:
            return self._redirect("/checkpoint/challenge/")
        return None

    def feed(self, req: Request) -> Response:
        return self._guard(req, "/feed/") or self._page(
            "Feed | LinkedIn", self._nav() + "<main><h1>Feed</h1><p>Start a post</p></main>"
        )

    # ------------------------------------------------------------------ search
    def search(self, req: Request) -> Response:
        if (blocked := self._guard(req, "/search/results/people/")) is not None:
            return blocked
        query = parse_qs(req.query)
        page = int(query.get("page", ["1"])[0])
        people = list(self.profiles.values())
        chunk = people[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        items = "".join(
            f"""<li class="reusable-search__result-container"><div class="entity-result">
<span class="entity-result__title-text"><a class="app-aware-link" href="/in/{p.slug}/?miniProfileUrn=x">
<span dir="ltr"><span aria-hidden="true">{html.escape(p.name)}</span></span></a></span>
<div class="entity-result__primary-subtitle">{html.escape(p.headline)}</div>
<div class="entity-result__secondary-subtitle">{html.escape(p.location)}</div></div></li>"""
            for p in chunk
        )
        more = page * PAGE_SIZE < len(people)
        keep = {k: v[0] for k, v in query.items() if k != "page"}
        from urllib.parse import urlencode

        nxt = urlencode({**keep, "page": page + 1})
        next_button = (
            f"""<button aria-label="Next" type="button" onclick="location.href='/search/results/people/?{nxt}'">
<span>Next</span></button>"""
            if more
            else '<button aria-label="Next" type="button" disabled><span>Next</span></button>'
        )
        return self._page(
            "Search | LinkedIn",
            self._nav()
            + f"""<main><ul class="reusable-search__entity-result-list">{items}</ul>
<div class="artdeco-pagination">{next_button}</div></main>""",
        )

    # ------------------------------------------------------------------ profiles
    def profile_page(self, req: Request) -> Response:
        slug = req.path.strip("/").split("/")[1]
        if (blocked := self._guard(req, req.path)) is not None:
            return blocked
        p = self.profiles[slug]
        n = html.escape(p.name)
        if p.state == "connect":
            buttons = f'<button aria-label="Invite {n} to connect" onclick="openInvite()">Connect</button>'
        elif p.state == "more":
            buttons = f"""<button aria-label="Follow {n}">Follow</button>
<div class="artdeco-dropdown"><button aria-label="More actions" onclick="toggleMore()">More</button>
<div class="artdeco-dropdown__content" hidden><div role="button" tabindex="0" aria-label="Invite {n} to connect"
 onclick="openInvite()">Connect</div></div></div>"""
        elif p.state == "pending":
            buttons = (
                f'<button aria-label="Pending, click to withdraw invitation sent to {n}">Pending</button>'
            )
        else:
            buttons = f'<button aria-label="Message {n}" onclick="openMessages()">Message</button>'
        experience = "".join(
            f"""<li class="artdeco-list__item"><div data-field="title"><span aria-hidden="true">{html.escape(t)}</span></div>
<div data-field="company"><span aria-hidden="true">{html.escape(c)}</span></div>
<div data-field="dates"><span aria-hidden="true">{html.escape(d)}</span></div></li>"""
            for t, c, d in p.experience
        )
        thread = "".join(
            f'<li><p class="msg-s-event-listitem__body">{html.escape(m)}</p></li>' for m in p.messages
        )
        script = f"""<script>
const slug = {json.dumps(p.slug)}, fullName = {json.dumps(p.name)};
function toggleMore() {{ const m = document.querySelector('.artdeco-dropdown__content'); m.hidden = !m.hidden; }}
function openInvite() {{ document.getElementById('invite').hidden = false; }}
function addNote() {{ document.getElementById('note-area').hidden = false;
  document.getElementById('add-note').hidden = true; document.getElementById('send-bare').hidden = true; }}
async function sendInvite(withNote) {{
  const note = withNote ? document.getElementById('custom-message').value : null;
  await fetch('/voyager/api/invite', {{method: 'POST', body: JSON.stringify({{slug, note}})}});
  document.getElementById('invite').hidden = true;
  document.querySelector('.pvs-profile-actions').innerHTML =
    `<button aria-label="Pending, click to withdraw invitation sent to ${{fullName}}">Pending</button>`;
}}
function openMessages() {{ document.getElementById('msg-overlay').hidden = false; }}
async function sendMessage() {{
  const box = document.querySelector('.msg-form__contenteditable'); const text = box.innerText;
  await fetch('/voyager/api/message', {{method: 'POST', body: JSON.stringify({{slug, text}})}});
  const li = document.createElement('li'); li.innerHTML = '<p class="msg-s-event-listitem__body"></p>';
  li.firstChild.textContent = text; document.getElementById('thread').appendChild(li); box.innerText = '';
}}
</script>"""
        body = f"""{self._nav()}<main><section class="artdeco-card">
<h1 class="text-heading-xlarge">{n}</h1>
<div class="text-body-medium break-words">{html.escape(p.headline)}</div>
<span class="text-body-small inline t-black--light break-words">{html.escape(p.location)}</span>
<span class="dist-value">{p.degree}</span>
<div class="pvs-profile-actions">{buttons}</div></section>
<section class="artdeco-card"><div id="about"></div><h2>About</h2>
<div class="inline-show-more-text"><span aria-hidden="true">{html.escape(p.about)}</span></div></section>
<section class="artdeco-card"><div id="experience"></div><h2>Experience</h2><ul>{experience}</ul></section></main>
<div id="invite" role="dialog" aria-labelledby="invite-title" hidden><h2 id="invite-title">Add a note to your invitation?</h2>
<button id="add-note" aria-label="Add a note" onclick="addNote()">Add a note</button>
<button id="send-bare" aria-label="Send without a note" onclick="sendInvite(false)">Send without a note</button>
<div id="note-area" hidden><label for="custom-message">Your note</label>
<textarea id="custom-message" name="message" maxlength="300"></textarea>
<button aria-label="Send invitation" onclick="sendInvite(true)">Send</button></div></div>
<aside id="msg-overlay" class="msg-overlay-conversation-bubble" hidden><ul id="thread">{thread}</ul>
<form class="msg-form" onsubmit="event.preventDefault(); sendMessage();">
<div class="msg-form__contenteditable" contenteditable="true" role="textbox" aria-label="Write a message…"></div>
<button class="msg-form__send-button" type="submit">Send</button></form></aside>{script}"""
        return self._page(f"{p.name} | LinkedIn", body)

    def api_invite(self, req: Request) -> Response:
        data = json.loads(req.body)
        self.invitations.append({"slug": data["slug"], "note": data.get("note")})
        self.profiles[data["slug"]].state = "pending"
        time.sleep(self.invite_latency)  # lets a test kill the agent between "Send" and its ack
        return 200, {"Content-Type": "application/json"}, b"{}"

    def api_message(self, req: Request) -> Response:
        data = json.loads(req.body)
        self.profiles[data["slug"]].messages.append(data["text"])
        return 200, {"Content-Type": "application/json"}, b"{}"
