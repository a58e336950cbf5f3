"""Seeded markup mutations of fixture pages: the same site, different incidental markup.

A faithful copy of a site keeps what the real site guarantees (URLs, roles, accessible names, landmark
structure, a few documented ids) and nothing else. :class:`Mutator` serves a fixture's pages through
random, seeded changes of everything incidental, so that a locator that learned our fixture's classes,
ids, ``data-*`` attributes or exact nesting fails here instead of in production:

- class names and ids renamed (consistently in markup, CSS and scripts, so the fixture keeps working);
  ids in ``keep_ids`` (the real site's documented ones) stay;
- ``data-*`` attributes removed (renamed where the fixture's own script reads them);
- extra wrapper elements (``div`` for blocks, ``span`` for inline content) around elements;
- siblings reordered inside containers whose order carries no meaning (marked ``data-shuffle``);
- text split across spans, and visually-hidden helper text where the real site puts some (marked
  ``data-helper="…"``: e.g. "View Jane Doe's profile" after a name, as LinkedIn does);
- extra whitespace and decoy attributes.

``break_semantics=True`` instead removes one element that carries meaning (a role, an accessible name, a
heading, a form field, a link or button): the action must then fail with a locator error, never succeed
with a wrong result.

Fixture contract: a fixture's scripts reach their own elements through ids or classes written out literally
(renamed with them; never names built at run time like ``c${r}_${c}``), never through structure
(``parentElement``, ``children[i]``), and never through attribute values the mutator changes.
"""

from __future__ import annotations

import html
import random
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
RAW_TEXT = {"script", "style", "textarea", "title"}
# Where a wrapper or a split would change meaning or validity.
NO_WRAP = {
    "html", "head", "body", "title", "meta", "link", "script", "style", "li", "tr", "td", "th", "thead",
    "tbody", "tfoot", "option", "optgroup", "dt", "dd", "caption", "col", "colgroup", "summary", "legend",
    "source", "track", "area", "param", "br", "textarea", "label", "input", "select",
}  # fmt: skip
INLINE_PARENTS = {"a", "span", "button", "p", "label", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em"}
NO_SPLIT = {"script", "style", "textarea", "title", "option", "pre", "code"}
SEMANTIC_TAGS = {"h1", "h2", "h3", "button", "input", "textarea", "select", "a", "main", "nav", "form"}
# Tokens never renamed: they are also words of the DOM or JS a fixture script uses.
RESERVED = {
    "hidden", "value", "name", "style", "title", "id", "class", "button", "form", "label", "input", "main",
    "nav", "active", "disabled", "checked", "selected", "open", "data", "text", "type", "role", "true",
    "false", "null", "body", "head", "html", "grid", "row", "cell", "tab", "link", "list", "dialog",
}  # fmt: skip
VISUALLY_HIDDEN = (
    "position:absolute;width:1px;height:1px;padding:0;margin:-1px;overflow:hidden;clip:rect(0,0,0,0);"
    "white-space:nowrap;border:0"
)


@dataclass
class Node:
    tag: str  # "" for text, "!" for a comment or doctype kept verbatim
    attrs: list[tuple[str, str | None]] = field(default_factory=list)
    children: list[Node] = field(default_factory=list)
    text: str = ""

    def attr(self, name: str) -> str | None:
        for key, value in self.attrs:
            if key == name:
                return value
        return None

    def has(self, name: str) -> bool:
        return any(key == name for key, _ in self.attrs)

    def walk(self) -> Iterable[tuple[Node, Node | None]]:
        """Every element below this one, with its parent."""
        for child in self.children:
            if child.tag and child.tag != "!":
                yield child, self
                yield from child.walk()


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.root = Node("#root")
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, list(attrs))
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(Node(tag, list(attrs)))

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(Node("", text=data))

    def handle_entityref(self, name: str) -> None:
        self.stack[-1].children.append(Node("", text=f"&{name};"))

    def handle_charref(self, name: str) -> None:
        self.stack[-1].children.append(Node("", text=f"&#{name};"))

    def handle_comment(self, data: str) -> None:
        self.stack[-1].children.append(Node("!", text=f"<!--{data}-->"))

    def handle_decl(self, decl: str) -> None:
        self.stack[-1].children.append(Node("!", text=f"<!{decl}>"))


def parse(markup: str) -> Node:
    builder = _TreeBuilder()
    builder.feed(markup)
    builder.close()
    return builder.root


def serialize(node: Node) -> str:
    out: list[str] = []
    _emit(node, out)
    return "".join(out)


def _emit(node: Node, out: list[str]) -> None:
    for child in node.children:
        if child.tag in ("", "!"):
            out.append(child.text)
            continue
        attrs = "".join(
            f" {k}" if v is None else f' {k}="{html.escape(v, quote=True)}"' for k, v in child.attrs
        )
        out.append(f"<{child.tag}{attrs}>")
        if child.tag in VOID:
            continue
        _emit(child, out)
        out.append(f"</{child.tag}>")


def _token_pattern(token: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w-]){re.escape(token)}(?![\w-])")


@dataclass
class Mutator:
    """Serves pages through the mutations of one seed; the same seed always gives the same page."""

    seed: int
    keep_ids: frozenset[str] = frozenset()
    break_semantics: bool = False
    applied: list[str] = field(default_factory=list)  # what the last call did, for failure messages

    def __call__(self, markup: str) -> str:
        rng = random.Random(self.seed)
        self.applied = []
        root = parse(markup)
        scripts = [n for n, _ in root.walk() if n.tag in ("script", "style")]
        code = "\n".join(c.text for s in scripts for c in s.children)
        renames = self._renames(root, code, rng)
        self._rename_attributes(root, renames, code, rng)
        for script in scripts:
            for child in script.children:
                child.text = self._apply(child.text, renames)
        if self.break_semantics:
            self._remove_one(root, rng)
        else:
            self._shuffle(root, rng)
            self._helpers(root)
            self._wrap(root, rng)
            self._split_text(root, rng)
        for node, _ in root.walk():
            node.attrs = [(k, v) for k, v in node.attrs if k not in ("data-shuffle", "data-helper")]
        return serialize(root)

    # ------------------------------------------------------------------ renames
    def _renames(self, root: Node, code: str, rng: random.Random) -> dict[str, str]:
        tokens: set[str] = set()
        for node, _ in root.walk():
            tokens.update((node.attr("class") or "").split())
            if (ident := node.attr("id")) and ident not in self.keep_ids:
                tokens.add(ident)
        tokens -= RESERVED
        tokens = {t for t in tokens if len(t) >= 3 and re.fullmatch(r"[A-Za-z_][\w-]*", t)}
        # A token that is also a kept id would rename the kept id inside scripts: leave it.
        tokens -= set(self.keep_ids)
        names = {t: f"z{rng.getrandbits(40):010x}" for t in sorted(tokens)}
        if names:
            self.applied.append(f"renamed {len(names)} classes and ids")
        return names

    @staticmethod
    def _apply(text: str, renames: dict[str, str]) -> str:
        for old, new in sorted(renames.items(), key=lambda kv: -len(kv[0])):
            text = _token_pattern(old).sub(new, text)
        return text

    def _rename_attributes(self, root: Node, renames: dict[str, str], code: str, rng: random.Random) -> None:
        id_refs = ("for", "aria-labelledby", "aria-describedby", "aria-controls", "aria-owns", "list", "form")
        for node, _ in root.walk():
            attrs: list[tuple[str, str | None]] = []
            for key, value in node.attrs:
                if key == "class" and value is not None:
                    value = " ".join(renames.get(c, c) for c in value.split())
                    if rng.random() < 0.3:
                        value = f"{value} d{rng.getrandbits(24):06x}".strip()
                elif key in ("id", *id_refs) and value is not None:
                    value = " ".join(renames.get(v, v) for v in value.split())
                elif key == "href" and value and value.startswith("#"):
                    value = "#" + renames.get(value[1:], value[1:])
                elif key.startswith("on") and value:
                    value = self._apply(value, renames)
                elif key.startswith("data-") and key not in ("data-shuffle", "data-helper"):
                    js_name = re.sub(r"-(\w)", lambda m: m.group(1).upper(), key[5:])
                    if key not in code and f"dataset.{js_name}" not in code:
                        continue  # removed: nothing but a locator could depend on it
                attrs.append((key, value))
            if len(attrs) > 1 and rng.random() < 0.5:
                rng.shuffle(attrs)
            if rng.random() < 0.2:
                attrs.append((f"data-v{rng.getrandbits(16):04x}", str(rng.getrandbits(20))))
            node.attrs = attrs

    # ------------------------------------------------------------------ structure
    def _shuffle(self, root: Node, rng: random.Random) -> None:
        for node, _ in root.walk():
            if node.has("data-shuffle"):
                elements = [c for c in node.children if c.tag and c.tag != "!"]
                rng.shuffle(elements)
                node.children = elements
                self.applied.append(f"shuffled the children of <{node.tag}>")

    def _helpers(self, root: Node) -> None:
        for node, _ in list(root.walk()):
            helper = node.attr("data-helper")
            if helper:
                hidden = Node("span", [("style", VISUALLY_HIDDEN)], [Node("", text=html.escape(helper))])
                node.children.append(hidden)
                self.applied.append("added visually-hidden helper text")

    def _wrap(self, root: Node, rng: random.Random) -> None:
        wrapped = 0
        for node, parent in list(root.walk()):
            if parent is None or node.tag in NO_WRAP or parent.tag in ("#root", "html", "head", "ul", "ol"):
                continue
            if parent.tag in ("table", "tbody", "thead", "tr", "select", "dl"):
                continue
            if rng.random() < 0.25:
                tag = "span" if parent.tag in INLINE_PARENTS else "div"
                index = parent.children.index(node)
                parent.children[index] = Node(tag, [("class", f"w{rng.getrandbits(24):06x}")], [node])
                wrapped += 1
        if wrapped:
            self.applied.append(f"wrapped {wrapped} elements")

    def _split_text(self, root: Node, rng: random.Random) -> None:
        for node, _ in list(root.walk()):
            if node.tag in NO_SPLIT or node.has("contenteditable"):
                continue
            new_children: list[Node] = []
            for child in node.children:
                words = child.text.split(" ") if child.tag == "" and "&" not in child.text else []
                if len(words) > 1 and rng.random() < 0.4:
                    cut = rng.randrange(1, len(words))
                    first, rest = " ".join(words[:cut]), " ".join(words[cut:])
                    pad = "\n  " if rng.random() < 0.5 else ""
                    new_children.append(Node("span", [], [Node("", text=first + " ")]))
                    new_children.append(Node("span", [], [Node("", text=pad + rest)]))
                else:
                    new_children.append(child)
            node.children = new_children

    def _remove_one(self, root: Node, rng: random.Random) -> None:
        candidates = [
            (node, parent)
            for node, parent in root.walk()
            if parent is not None
            and node.tag not in ("script", "style", "html", "head", "body", "title", "meta")
            and (node.tag in SEMANTIC_TAGS or node.has("role") or node.has("aria-label"))
        ]
        if not candidates:
            return
        node, parent = candidates[rng.randrange(len(candidates))]
        parent.children.remove(node)
        label = node.attr("aria-label") or node.attr("role") or node.tag
        self.applied.append(f"removed <{node.tag}> {label!r}")


Transform = Callable[[str, bytes], bytes]


def mutating(mutator: Mutator) -> Transform:
    """A fixture-server transform that passes every HTML response through ``mutator``."""

    def transform(content_type: str, body: bytes) -> bytes:
        if "text/html" not in content_type:
            return body
        return mutator(body.decode()).encode()

    return transform
