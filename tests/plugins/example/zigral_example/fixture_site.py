"""The notes site the example agent is written for, as its fixture tests serve it (any server whose
``route(path)`` registers ``handler(request) -> (status, headers, body)``, e.g. the suite's FixtureServer)."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qs

PAGE = """<!doctype html><html lang="en"><head><title>Notes</title></head><body>
<main><h1>Notes</h1>
<ul aria-label="Notes">{items}</ul>
<form method="post" action="/notes"><label>New note <input name="text" autocomplete="off"></label>
<button type="submit">Add note</button></form></main></body></html>"""


class Server(Protocol):
    def route(self, path: str) -> Any: ...


@dataclass
class NotesSite:
    notes: list[str] = field(default_factory=list)

    def page(self) -> str:
        return PAGE.format(items="".join(f"<li>{html.escape(n)}</li>" for n in self.notes))

    def install(self, server: Server) -> None:
        @server.route("/notes")
        def notes(req: Any) -> tuple[int, dict[str, str], bytes]:
            if req.method == "POST":
                text = parse_qs(req.body.decode()).get("text", [""])[0].strip()
                if text:
                    self.notes.append(text)
                return 303, {"Location": "/notes"}, b""
            return 200, {"Content-Type": "text/html; charset=utf-8"}, self.page().encode()
