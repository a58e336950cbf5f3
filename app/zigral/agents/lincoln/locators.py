"""Every LinkedIn locator, in one place: when LinkedIn changes its markup, this is the file to fix.

What the real site guarantees comes first: URL shapes, roles and accessible names (its ``aria-label``s
"Invite … to connect", "Pending, click to withdraw invitation sent to …", "Message …", "More actions",
"Add a note", "Send without a note", "Send invitation", "Write a message…"), landmarks (``main``, the
"Primary Navigation"), the login form's ``#username``/``#password``, the section anchors ``#about`` and
``#experience``, and the split of every visible string into ``aria-hidden="true"`` text plus a
``visually-hidden`` copy for screen readers. The real site's class names are tried first where they exist,
with a fallback built on structure and visibility only (text grouped by the block that holds it), because
LinkedIn renames classes often. Nothing here depends on an attribute only the test fixture has.

Functions returning a Playwright :class:`Locator` take the page (or a container); the ``*_JS`` functions
read text in the page in one round trip, visible text only (never screen-reader copies).
"""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Locator, Page

# ------------------------------------------------------------------------- URLs
LOGIN_PATH = "/login"
FEED_PATH = "/feed/"
SEARCH_PEOPLE_PATH = "/search/results/people/"
MAX_SEARCH_PAGES = 100  # LinkedIn shows at most 100 pages of results
PROFILE_PATH = re.compile(r"^/in/([^/?#]+)/?")

# Paths that mean "a person must act": the login wall, a security checkpoint, a two-step code page.
LOGIN_WALL = re.compile(r"/(login|authwall|uas/login|signup)\b")
CHECKPOINT = re.compile(r"/checkpoint/")
INTERSTITIAL = re.compile(r"^/check/")  # after a login: "Add a phone number for security" and the like
NOT_FOUND_PATH = re.compile(r"^/(404|in/unavailable)/?")
NOT_FOUND_HEADING = re.compile(r"(doesn.t exist|page not found|profile is not available)", re.I)
DEGREE = re.compile(r"^[·•\s]*(1st|2nd|3rd\+?)$")
NO_RESULTS = re.compile(r"\bNo results found\b", re.I)
RESULT_COUNT = re.compile(r"([\d][\d,.\s]*)\s+results?\b", re.I)
# LinkedIn joins extra facts to a line with " · " ("Acme · Full-time", "1970 - Present · 55 yrs").
FACT_SEPARATOR = re.compile(r"\s+[·•]\s+")
DATES = re.compile(r"(\b\d{4}\b|Present)")


# ------------------------------------------------------------------------- login and session
def username(page: Page) -> Locator:
    return page.locator("#username").or_(page.get_by_label("Email or phone")).first


def password(page: Page) -> Locator:
    return page.locator("#password").or_(page.get_by_label("Password", exact=True)).first


def another_account(page: Page) -> Locator:
    """On LinkedIn's "Welcome Back" page (a remembered account): the way to the full sign-in form."""
    name = re.compile(r"^Sign in using another account")
    return page.get_by_role("link", name=name).or_(page.get_by_role("button", name=name)).first


def sign_in(page: Page) -> Locator:
    return (
        page.get_by_role("button", name="Sign in", exact=True)
        .or_(page.locator("form button[type=submit]"))
        .first
    )


def login_error(page: Page) -> Locator:
    return page.locator("#error-for-password, #error-for-username, [role=alert]").first


def sign_in_links(page: Page) -> Locator:
    """A signed-out page's "Sign in" / "Join now" (LinkedIn serves public profiles to guests)."""
    return page.get_by_role("link", name=re.compile(r"^(Sign in|Join now)\b")).or_(
        page.get_by_role("button", name=re.compile(r"^(Sign in|Join now)\b"))
    )


def password_field_anywhere(page: Page) -> Locator:
    """A sign-in form on a page that is not the login page: a login wall over the target's URL."""
    return page.locator("input[type=password]")


def skip_button(page: Page) -> Locator:
    return (
        page.get_by_role("button", name="Skip", exact=True)
        .or_(page.get_by_role("link", name="Skip", exact=True))
        .first
    )


def me_photo(page: Page) -> Locator:
    """The signed-in member's photo in the global nav; its alt text is their name."""
    nav = page.get_by_role("navigation", name="Primary Navigation")
    return page.locator("img.global-nav__me-photo").or_(nav.locator("img[alt]:not([alt=''])")).first


def captcha(page: Page) -> Locator:
    return page.locator("#captcha-internal, iframe[title*=captcha i], iframe[src*=captcha]").first


def two_step_code(page: Page) -> Locator:
    return page.locator(
        "input[name=pin], #input__phone_verification_pin, #input__email_verification_pin"
    ).first


# Is the session good? Asked from inside the page (its cookies, its proxy), without disturbing what an
# operator is doing in that tab: the feed answers 200 to a signed-in member and redirects anyone else.
SESSION_PROBE_JS = """async (path) => {
  try {
    const r = await fetch(path, {redirect: 'manual', credentials: 'include', cache: 'no-store'});
    if (r.type === 'opaqueredirect' || r.status >= 300) return 'blocked';
    if (r.status !== 200) return 'unknown';
    const text = await r.text();
    return /type=["']?password/i.test(text) ? 'blocked' : 'ok';
  } catch (e) { return 'unknown'; }
}"""


# ------------------------------------------------------------------------- visible text
# Shared by the readers below: text a sighted person sees (visually-hidden copies and hidden menus left
# out), and "lines": text grouped by the block element that holds it, in document order.
_LIB = r"""
const hiddenCache = new Map();
function isHidden(e) {
  if (!e || e.nodeType !== 1) return false;
  if (hiddenCache.has(e)) return hiddenCache.get(e);
  const s = getComputedStyle(e);
  let h = s.display === 'none' || s.visibility === 'hidden' || e.hidden
    || (s.position === 'absolute' && parseFloat(s.width) <= 1 && parseFloat(s.height) <= 1)
    || (s.position === 'absolute' && s.clip && s.clip !== 'auto')
    || (s.clipPath || '').startsWith('inset(50%');
  if (!h) h = isHidden(e.parentElement);
  hiddenCache.set(e, h);
  return h;
}
const norm = t => t.replace(/\s+/g, ' ').trim();
function textNodes(root, skip) {
  const out = [];
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const p = n.parentElement;
    if (!p || p.closest('script,style,template') || isHidden(p)) continue;
    if (skip && p.closest(skip) && root.contains(p.closest(skip))) continue;
    out.push(n);
  }
  return out;
}
function visibleText(root, skip) { return norm(textNodes(root, skip).map(n => n.data).join('')); }
function blockOf(n, root) {
  for (let e = n.parentElement; e && e !== root; e = e.parentElement) {
    const d = getComputedStyle(e).display;
    if (!d.startsWith('inline') && d !== 'contents') return e;
  }
  return root;
}
function lines(root, skip) {
  const groups = new Map();
  for (const n of textNodes(root, skip)) {
    const b = blockOf(n, root);
    if (!groups.has(b)) groups.set(b, []);
    groups.get(b).push(n);
  }
  return [...groups.entries()].map(([b, ns]) => ({el: b, first: ns[0],
    text: norm(ns.map(n => n.data).join('')).replace(/^[·•\s]+|[·•\s]+$/g, '')})).filter(l => l.text);
}
function shownText(el) {
  const aria = [...el.querySelectorAll('[aria-hidden="true"]')]
    .filter(a => !a.parentElement.closest('[aria-hidden="true"]'));
  const t = aria.map(a => visibleText(a)).filter(Boolean).join(' ');
  return t || visibleText(el);
}
function ariaTexts(root) {
  return [...root.querySelectorAll('[aria-hidden="true"]')]
    .filter(a => !a.parentElement.closest('[aria-hidden="true"]'))
    .filter(a => !a.closest('h1,h2,h3,h4,h5,h6,[role=heading]'))
    .map(a => visibleText(a)).filter(Boolean);
}
"""


def _js(body: str) -> str:
    return f"(el, arg) => {{ {_LIB}\n{body} }}"


def evaluate(locator: Locator, body: str, arg: Any = None) -> Any:
    """Run one of the ``*_JS`` bodies on the first element of ``locator``."""
    return locator.first.evaluate(_js(body), arg)


# ------------------------------------------------------------------------- profile
def profile_name(page: Page) -> Locator:
    return page.locator("main h1").first


def top_card(page: Page) -> Locator:
    """The profile's first card: name, headline, location, degree and the action buttons."""
    return page.locator("main section.pv-top-card").or_(page.locator("main section:has(h1)")).first


# The top card read as lines below the name: degree badge, headline, location, connections...
# arg: the real site's classes for headline and location, tried first.
TOP_CARD_JS = r"""
const h1 = el.querySelector('h1');
if (!h1) return null;
const byClass = sel => { const e = el.querySelector(sel); return e && !isHidden(e) ? visibleText(e) : null; };
const after = lines(el, 'a,button,[role=button],[role=dialog],[role=menu]').filter(l =>
  (h1.compareDocumentPosition(l.first) & Node.DOCUMENT_POSITION_FOLLOWING) && !h1.contains(l.first));
const degreeLine = after.find(l => /^(1st|2nd|3rd\+?)$/.test(l.text));
const rest = after.filter(l => l !== degreeLine && !/^(1st|2nd|3rd\+?)$/.test(l.text));
const dist = byClass('.dist-value');
return {name: visibleText(h1),
        headline: byClass(arg.headline) || (rest[0] ? rest[0].text : null),
        location: byClass(arg.location) || (rest[1] ? rest[1].text : null),
        degree: dist ? dist.replace(/^[·•\s]+/, '') : (degreeLine ? degreeLine.text : null)};
"""
TOP_CARD_CLASSES = {
    "headline": ".text-body-medium.break-words",
    "location": "span.text-body-small.inline.t-black--light.break-words",
}


# Scroll through the page as a reader would: LinkedIn loads the lower sections when they come into view.
REVEAL_JS = """async () => {
  const pause = ms => new Promise(r => setTimeout(r, ms));
  for (let y = 0; y < document.documentElement.scrollHeight; y += Math.max(200, innerHeight * 0.8)) {
    scrollTo(0, y); await pause(60);
  }
  scrollTo(0, document.documentElement.scrollHeight); await pause(60); scrollTo(0, 0);
}"""


def section(page: Page, anchor: str, heading: str) -> Locator:
    """A profile section: by its anchor id (``#about``, ``#experience``), else by its heading."""
    by_heading = page.locator("main section").filter(
        has=page.get_by_role("heading", name=heading, exact=True)
    )
    return page.locator(f"main section:has(#{anchor})").or_(by_heading).first


# The section's first text, its aria-hidden copy first (About).
ABOUT_JS = r"""
const t = ariaTexts(el);
if (t.length) return t[0];
const ls = lines(el, 'h1,h2,h3,button,a');
return ls.length ? ls[0].text : null;
"""

# Each entry (top-level list item) of a section as its lines: title, company, dates (Experience).
# A company with several roles is one item whose nested items are the roles: each becomes
# [title, company, its other lines...].
ENTRIES_JS = r"""
const top = a => !a.parentElement.closest('[aria-hidden="true"]') && !a.closest('h1,h2,h3,h4,h5,h6');
const texts = (li, skip = []) => {
  const own = [...li.querySelectorAll('[aria-hidden="true"]')].filter(top)
    .filter(a => !skip.some(s => s.contains(a))).map(a => visibleText(a)).filter(Boolean);
  if (own.length) return own;
  return lines(li, 'button').filter(l => !skip.some(s => s.contains(l.first))).map(l => l.text);
};
const items = [...el.querySelectorAll('li')].filter(li => !li.parentElement.closest('li'));
return items.flatMap(li => {
  const roles = [...li.querySelectorAll('li')].filter(r => texts(r).length >= 2);
  if (!roles.length) return [texts(li)];
  const company = texts(li, roles)[0];
  return roles.map(r => { const t = texts(r); return [t[0], company, ...t.slice(1)]; });
});
"""


def action_button(card: Locator, label: str | re.Pattern[str], include_hidden: bool = False) -> Locator:
    """A button (or menu item, or link styled as a button) of the top card, by its accessible name."""
    exact = isinstance(label, str)
    return (
        card.get_by_role("button", name=label, exact=exact, include_hidden=include_hidden)
        .or_(card.get_by_role("menuitem", name=label, exact=exact, include_hidden=include_hidden))
        .or_(card.get_by_role("link", name=label, exact=exact, include_hidden=include_hidden))
    )


def connect_button(card: Locator, name: str, include_hidden: bool = False) -> Locator:
    return action_button(card, f"Invite {name} to connect", include_hidden)


def more_button(card: Locator) -> Locator:
    return action_button(card, "More actions").or_(action_button(card, "More")).first


def follow_button(card: Locator, name: str) -> Locator:
    return action_button(card, f"Follow {name}")


def pending_button(card: Locator, name: str) -> Locator:
    return action_button(card, f"Pending, click to withdraw invitation sent to {name}")


def message_button(card: Locator, name: str) -> Locator:
    return action_button(card, f"Message {name}")


# ------------------------------------------------------------------------- invitation modal
_INVITE_BUTTONS = re.compile(r"^(Add a note|Send without a note|Send invitation|Send now|Send)$")


def invite_dialog(page: Page) -> Locator:
    dialogs = page.get_by_role("dialog").or_(page.get_by_role("alertdialog"))
    return dialogs.filter(has=page.get_by_role("button", name=_INVITE_BUTTONS)).first


def add_a_note(page: Page) -> Locator:
    return invite_dialog(page).get_by_role("button", name="Add a note", exact=True)


def send_without_note(page: Page) -> Locator:
    return invite_dialog(page).get_by_role("button", name="Send without a note", exact=True)


def note_field(page: Page) -> Locator:
    dialog = invite_dialog(page)
    return dialog.locator("#custom-message").or_(dialog.get_by_role("textbox")).first


def send_invitation(page: Page) -> Locator:
    dialog = invite_dialog(page)
    return (
        dialog.get_by_role("button", name="Send invitation", exact=True)
        .or_(dialog.get_by_role("button", name="Send", exact=True))
        .first
    )


# ------------------------------------------------------------------------- messaging
def message_boxes(page: Page) -> Locator:
    """Every open conversation's editor (LinkedIn keeps several bubbles open)."""
    return page.get_by_role("textbox", name=re.compile(r"^Write a message")).or_(
        page.locator("div.msg-form__contenteditable[contenteditable=true]")
    )


# Which editor (of message_boxes, evaluated with evaluate_all) belongs to the conversation with ``arg``:
# its bubble is the nearest ancestor with a heading or a "Conversation with/Messaging with" label.
CONVERSATION_JS = r"""(boxes, name) => {
  const norm = t => (t || '').replace(/\s+/g, ' ').trim();
  return boxes.findIndex(box => {
    for (let e = box.parentElement; e && e !== document.body; e = e.parentElement) {
      const label = e.getAttribute('aria-label') || '';
      const m = label.match(/^(?:Conversation|Messaging) with (.+)$/);
      if (m) return norm(m[1]) === name;
      const h = e.querySelector('h1,h2,h3,h4');
      if (h) return norm(h.innerText) === name;
    }
    return false;
  });
}"""


def message_send(box: Locator) -> Locator:
    """The Send button of the form around ``box``."""
    form = box.locator("xpath=ancestor::form[1]")
    return (
        form.locator("button.msg-form__send-button")
        .or_(form.get_by_role("button", name="Send", exact=True))
        .first
    )


# The conversation around the message box (el), oldest first: [{sender, text}]. A message without its
# sender's name belongs to the group above it, as LinkedIn shows consecutive messages from one person.
THREAD_JS = r"""
let list = null;
for (let e = el.parentElement; e && !list; e = e.parentElement) {
  if (e.querySelector('nav, h1')) break;  // out of the conversation: the page around it
  const items = [...e.querySelectorAll('li')].filter(li => !li.contains(el));
  if (items.length) list = e;
}
if (!list) return [];
const items = [...list.querySelectorAll('li')]
  .filter(li => !li.parentElement.closest('li') && !li.contains(el));
let sender = null;
return items.map(li => {
  const named = li.querySelector('.msg-s-message-group__name');
  const photo = li.querySelector('img[alt]:not([alt=""])');
  const bodyEl = li.querySelector('.msg-s-event-listitem__body') || [...li.querySelectorAll('p')].pop();
  const heading = [...li.querySelectorAll('*')]
    .filter(e => !e.children.length && !(bodyEl && bodyEl.contains(e)))
    .map(e => (e.textContent || '').match(/^\s*(.+?) sent the following messages? at\b/)).find(Boolean);
  const who = named && visibleText(named) ? visibleText(named) : heading ? heading[1].trim()
    : (photo ? photo.alt : null);
  if (who) sender = who;
  const text = bodyEl ? bodyEl.innerText : (lines(li, 'time,a').pop() || {text: ''}).text;
  return {sender, text: (text || '').replace(/\s+/g, ' ').trim()};
});
"""


# ------------------------------------------------------------------------- people search
def search_main(page: Page) -> Locator:
    return page.locator("main").first


# Every result of the people search: {name, href, headline, location} or {missing: <locator>}.
# arg: the real site's classes, tried first; then structure: the list whose items link to /in/ profiles.
SEARCH_JS = r"""
const byClass = [...el.querySelectorAll(arg.item)];
let items = byClass;
if (!items.length) {
  const lists = [...el.querySelectorAll('ul,ol,[role=list]')].filter(l =>
    [...l.children].some(li => li.querySelector('a[href*="/in/"]')));
  const top = lists.filter(l => !lists.some(o => o !== l && o.contains(l)));
  items = top.flatMap(l => [...l.children].filter(c => c.matches('li,[role=listitem]')));
}
const countLine = lines(el).find(l => /^(about\s+)?[\d][\d,.\s]*\s+results?$/i.test(l.text));
const out = items.map(li => {
  const links = [...li.querySelectorAll('a[href*="/in/"]')].filter(a => visibleText(a));
  const link = li.querySelector(arg.link) || links[0];
  if (!link) return /LinkedIn Member/.test(visibleText(li)) ? {skipped: true} : {missing: 'result_name_link'};
  const name = shownText(link);
  const own = lines(li, 'button').filter(l => !l.el.contains(link) && !link.contains(l.first) &&
    !/^(1st|2nd|3rd\+?)$/.test(l.text) && !/degree connection$/.test(l.text));
  const cls = sel => { const e = li.querySelector(sel); return e && !isHidden(e) ? visibleText(e) : null; };
  return {name, href: link.getAttribute('href'),
          headline: cls(arg.headline) || (own[0] ? own[0].text : null),
          location: cls(arg.location) || (own[1] ? own[1].text : null)};
});
return {results: out.filter(r => !r.skipped), skipped: out.filter(r => r.skipped).length,
        count: countLine ? countLine.text : null, by_class: byClass.length > 0};
"""
SEARCH_CLASSES = {
    "item": "li.reusable-search__result-container",
    "link": "span.entity-result__title-text a[href*='/in/']",
    "headline": ".entity-result__primary-subtitle",
    "location": ".entity-result__secondary-subtitle",
}


def next_page(page: Page) -> Locator:
    return (
        page.get_by_role("button", name="Next", exact=True)
        .or_(page.get_by_role("link", name="Next", exact=True))
        .first
    )
