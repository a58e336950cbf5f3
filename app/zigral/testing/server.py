"""A local HTTP server for fixture pages, served by the tests on loopback, that records every hit."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

Response = tuple[int, dict[str, str], bytes]
Route = Callable[["Request"], Response]


@dataclass
class Request:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes


@dataclass
class FixtureServer:
    routes: dict[str, Route] = field(default_factory=dict)
    hits: Counter[str] = field(default_factory=Counter)
    port: int = 0
    # Rewrites every response body by content type (e.g. zigral/testing/mutate.py's seeded markup mutations).
    transform: Callable[[str, bytes], bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base + path

    def page(self, path: str, html: str, status: int = 200, headers: dict[str, str] | None = None) -> None:
        body = html.encode()
        hdrs = {"Content-Type": "text/html; charset=utf-8", **(headers or {})}
        self.routes[path] = lambda _req: (status, hdrs, body)

    def route(self, path: str) -> Callable[[Route], Route]:
        def register(fn: Route) -> Route:
            self.routes[path] = fn
            return fn

        return register


@contextmanager
def serve(server: FixtureServer | None = None) -> Iterator[FixtureServer]:
    fixture = server or FixtureServer()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            parts = urlsplit(self.path)
            fixture.hits[parts.path] += 1
            length = int(self.headers.get("Content-Length") or 0)
            req = Request(self.command, parts.path, parts.query, dict(self.headers), self.rfile.read(length))
            route = fixture.routes.get(parts.path)
            if route is None:
                status, headers, body = 404, {"Content-Type": "text/plain"}, b"not found"
            else:
                status, headers, body = route(req)
                if fixture.transform is not None:
                    body = fixture.transform(headers.get("Content-Type", ""), body)
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", fixture.port), Handler)
    httpd.daemon_threads = True
    fixture.port = int(httpd.server_address[1])
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield fixture
    finally:
        httpd.shutdown()
        httpd.server_close()
