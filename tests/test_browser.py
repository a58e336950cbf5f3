from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Error as PlaywrightError

from zigral import probes
from zigral.browser import BrowserSession, translate
from zigral.deadline import Deadline
from zigral.errors import Rejected
from zigral.testing.server import FixtureServer, serve


def test_a_redirect_to_a_local_file_is_refused_not_retried() -> None:
    error = translate(PlaywrightError("net::ERR_UNSAFE_REDIRECT at http://site/redirect"), Deadline(60))
    assert isinstance(error, Rejected) and not error.retryable


@pytest.mark.parametrize(
    "code", ["ERR_PROXY_AUTH_UNSUPPORTED", "ERR_INVALID_AUTH_CREDENTIALS", "ERR_PROXY_AUTH_REQUESTED"]
)
def test_a_proxy_authentication_failure_names_the_credentials_and_is_not_retried(code: str) -> None:
    error = translate(PlaywrightError(f"net::{code} at https://example.com/"), Deadline(60))
    assert not error.retryable
    assert "the upstream proxy refused the credentials" in str(error)


def test_other_network_errors_stay_retryable() -> None:
    assert translate(PlaywrightError("net::ERR_CONNECTION_RESET at http://x/"), Deadline(60)).retryable


@pytest.mark.parametrize(
    "message",
    [
        'Navigation to "http://a/" is interrupted by another navigation to "http://b/"',
        "Navigating frame was detached",
        "Execution context was destroyed, most likely because of a navigation",
    ],
)
def test_a_navigation_the_page_interrupted_by_itself_is_retried(message: str) -> None:
    error = translate(PlaywrightError(message), Deadline(60))
    assert error.retryable and "navigation interrupted" in str(error)


def test_any_other_browser_error_is_a_plain_failure() -> None:
    assert not translate(PlaywrightError("Element is not attached to the DOM"), Deadline(60)).retryable


# ---------------------------------------------------------------------------- against a real Chromium
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture
def cdp_port() -> Iterator[int]:
    """A headless Chromium with its DevTools endpoint on a free port."""
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("Chromium is required in CI")
        pytest.skip("no Chromium")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    profile = tempfile.mkdtemp(prefix="zigral-cdp-")
    argv = [str(CHROMIUM), "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run"]
    argv += [f"--remote-debugging-port={port}", f"--user-data-dir={profile}", "about:blank"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        probes.wait_for(lambda: probes.cdp_version(port), "headless Chromium", timeout=30)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def site() -> Iterator[FixtureServer]:
    with serve() as fixture:
        fixture.page("/p", "<title>p</title><img src='/missing.png'>")
        yield fixture


def test_the_work_tab_is_renewed_so_playwright_objects_do_not_pile_up(
    cdp_port: int, site: FixtureServer
) -> None:
    session = BrowserSession(cdp_port, 20, renew_after=20)

    def objects() -> int:
        return len(session._pw._impl_obj._connection._objects)  # type: ignore[union-attr]

    try:
        alive = []
        for n in range(1, 121):
            session.run(Deadline(20), lambda page: page.goto(site.url("/p")), navigates=True)
            if n % 20 == 19:
                alive.append(objects())
        # Each navigation leaves its Request and Response (and the image's) alive while its tab lives.
        assert max(alive) - min(alive) < 30, alive
        for _ in range(30):  # commands that stay on the page never lose it, even past the renewal count
            assert session.run(Deadline(20), lambda page: page.title()) == "p"
        session.renew_after = 1
        for _ in range(25):  # past renew_after * 20 without a navigation: renewed, the URL carried over
            assert session.run(Deadline(20), lambda page: page.title()) == "p"
    finally:
        session.close()


def test_an_action_runs_on_the_work_tab_and_a_failure_is_captured(
    cdp_port: int, site: FixtureServer, tmp_path: Path
) -> None:
    import redis
    from prometheus_client import CollectorRegistry

    from zigral.actions import Action, NoParams
    from zigral.captures import CaptureStore
    from zigral.config import Settings
    from zigral.constants import Names
    from zigral.generic import GENERIC
    from zigral.messages import Command
    from zigral.metrics import AgentMetrics
    from zigral.quotas import QuotaGate
    from zigral.runtime.browsing import BrowserRunner
    from zigral.runtime.decisions import Job
    from zigral.runtime.memory import message
    from zigral.state import TaskStore
    from zigral.urlpolicy import UrlPolicy

    def stuck(ctx: Any, p: NoParams) -> dict[str, Any]:
        ctx.report("needs_human", "a checkpoint")
        raise ctx.missing("next_button", "no Next button")

    settings = Settings(runtime={"allow_private": [f"127.0.0.1:{site.port}"]})  # type: ignore[arg-type]
    client = redis.Redis(socket_connect_timeout=0.2)
    names = Names("zbr")
    metrics = AgentMetrics("lincoln", CollectorRegistry())
    session = BrowserSession(cdp_port, 20)
    runner = BrowserRunner(
        session,
        UrlPolicy.from_settings(settings, "lincoln"),
        CaptureStore(tmp_path, "lincoln"),
        metrics,
        TaskStore(client, names, 60, 100),
        QuotaGate(client, names, "acct", {}),
    )

    def job(action: Action[Any], params: Any, **fields: Any) -> Job:
        command = Command(agent="lincoln", action=action.name, **fields)
        return Job(
            message(command.model_dump(mode="json")), "fp", command=command, action=action, params=params
        )

    try:
        navigate = GENERIC["navigate"]
        params = navigate.parse({"url": site.url("/p")})
        done = runner.run(job(navigate, params, capture=True), Deadline(20), {})
        assert done.status == "succeeded" and done.result["title"] == "p"
        assert any(path.endswith(".png") for path in done.captures)
        failed = runner.run(job(Action("stuck", NoParams, stuck), NoParams()), Deadline(20), {})
        assert failed.status == "failed" and "no Next button" in (failed.error or "")
        assert any("failure" in path for path in failed.captures)
        assert runner.reports.get_nowait() == ("needs_human", "a checkpoint")
        misses = metrics.registry.get_sample_value(
            "zigral_locator_misses_total", {"agent": "lincoln", "locator": "next_button"}
        )
        assert misses == 1
    finally:
        session.close()
        client.close()
