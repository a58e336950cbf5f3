"""Lincoln against a local copy of LinkedIn, through the whole path (RabbitMQ -> Lincoln -> Chromium)."""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import sync_playwright

from zigral.client import Client
from zigral.config import QuotaLimit, load_settings
from zigral.messages import Command, Result
from zigral.quotas import QuotaGate
from zigral.state import TaskStore
from zigral.testing.server import serve

from .conftest import Stack, booted_stack, eventually, services_available
from .linkedin_site import LinkedInSite

pytestmark = pytest.mark.integration

RECHECK = 2.0  # seconds between session probes while Lincoln waits for a person


@pytest.fixture(scope="module")
def linkedin() -> Iterator[tuple[LinkedInSite, str]]:
    site = LinkedInSite()
    with serve() as server:
        site.install(server)
        yield site, server.base


@pytest.fixture(scope="module")
def lincoln(linkedin: tuple[LinkedInSite, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    site, base = linkedin
    services_available(load_settings())
    secrets_dir = tmp_path_factory.mktemp("linkedin-secrets")
    creds = secrets_dir / "linkedin.json"
    creds.write_text(json.dumps({"username": site.username, "password": site.password}))
    os.chmod(creds, 0o600)
    with booted_stack(
        runtime={"allow_private": [base.removeprefix("http://")], "heartbeat_interval": 1.0},
        lincoln={
            "base_url": base,
            "credentials_file": str(creds),
            "pause_min": 0,
            "pause_max": 0,
            "keystroke_min_ms": 0,
            "keystroke_max_ms": 0,
            "human_wait": 60,
            "recheck_interval": RECHECK,
            "ui_wait": 5,
            "quotas": {"connect": {"day": 4, "week": 100}, "message": {"day": 50}, "visit": {"day": 80}},
        },
    ) as stack:
        yield stack


def run(stack: Stack, action: str, wait: float = 120, **params: Any) -> Result:
    with Client(stack.settings) as client:
        return client.call(Command(agent="lincoln", action=action, params=params), timeout=wait)


def profile(base: str, slug: str) -> str:
    return f"{base}/in/{slug}/"


def ensure_logged_in(stack: Stack) -> None:
    result = run(stack, "login")
    assert result.status == "succeeded", result
    assert result.result["logged_in"] is True


def test_check_session_reports_a_signed_out_browser(
    lincoln: Stack, linkedin: tuple[LinkedInSite, str]
) -> None:
    linkedin[0].sessions.clear()
    result = run(lincoln, "check_session")
    assert result.status == "succeeded"
    assert result.result == {"logged_in": False, "blocked_by": "the login wall (not signed in)"}


def test_login_uses_the_secrets_file_and_never_leaks_the_password(
    lincoln: Stack, linkedin: tuple[LinkedInSite, str]
) -> None:
    site, _ = linkedin
    result = run(lincoln, "login")
    assert result.status == "succeeded", result
    assert result.result["logged_in"] is True and result.result["name"] == "Ada Lovelace"
    session = run(lincoln, "check_session").result
    assert session["logged_in"] is True and session["name"] == "Ada Lovelace" and session["verified"]
    assert site.password not in lincoln.log("lincoln")
    assert site.password not in json.dumps(TaskStore.from_settings(lincoln.settings).get(result.id))
    for path in lincoln.settings.captures.dir.rglob("*.html"):
        assert site.password not in path.read_text()


def test_credentials_in_a_message_are_refused(lincoln: Stack) -> None:
    with Client(lincoln.settings) as client:
        command = Command(agent="lincoln", action="login", params={"password": "x"})
        result = client.call(command, timeout=60)
    assert result.status == "rejected" and "password" in (result.error or "")


def test_search_people_follows_pagination_up_to_the_limit(
    lincoln: Stack, linkedin: tuple[LinkedInSite, str]
) -> None:
    ensure_logged_in(lincoln)
    result = run(lincoln, "search_people", keywords="computing", limit=5)
    assert result.status == "succeeded", result
    people = result.result["people"]
    assert [p["name"] for p in people] == [
        "Grace Hopper",
        "Alan Turing",
        "Katherine Johnson",
        "Charles Babbage",
        "Margaret Hamilton",
    ]
    assert result.result["pages"] == 2
    assert people[0] == {
        "name": "Grace Hopper",
        "headline": "Rear Admiral, US Navy",
        "location": "Arlington, Virginia",
        "profile_url": f"{linkedin[1]}/in/grace-hopper/",
    }


def test_visit_profile_reads_the_top_card_about_and_experience(
    lincoln: Stack, linkedin: tuple[LinkedInSite, str]
) -> None:
    ensure_logged_in(lincoln)
    result = run(lincoln, "visit_profile", profile_url=profile(linkedin[1], "alan-turing"))
    assert result.status == "succeeded", result
    data = result.result
    assert data["name"] == "Alan Turing" and data["headline"] == "Mathematician"
    assert data["location"] == "Manchester, England"
    assert data["about"] == "Alan Turing writes software and about software."
    assert data["experience"] == [
        {"title": "Mathematician", "company": "Acme Computing", "dates": "1970 - Present"},
        {"title": "Researcher", "company": "University", "dates": "1960 - 1970"},
    ]
    assert data["current_position"] == data["experience"][0]
    assert data["verified"] == "the page is /in/alan-turing/ with the name heading 'Alan Turing'"
    assert data["degree"] == "2nd" and data["can_connect"] is True and data["can_message"] is False


def test_send_connection_with_a_note_and_behind_more(
    lincoln: Stack, linkedin: tuple[LinkedInSite, str]
) -> None:
    site, base = linkedin
    ensure_logged_in(lincoln)
    first = run(lincoln, "send_connection", profile_url=profile(base, "grace-hopper"), note="Loved COBOL.")
    assert first.status == "succeeded" and first.result["status"] == "sent", first
    second = run(lincoln, "send_connection", profile_url=profile(base, "alan-turing"))
    assert second.status == "succeeded" and second.result["status"] == "sent", second
    assert {"slug": "grace-hopper", "note": "Loved COBOL."} in site.invitations
    assert {"slug": "alan-turing", "note": None} in site.invitations


def test_send_connection_reports_pending_and_connected_without_sending(
    lincoln: Stack, linkedin: tuple[LinkedInSite, str]
) -> None:
    site, base = linkedin
    ensure_logged_in(lincoln)
    before = len(site.invitations)
    pending = run(lincoln, "send_connection", profile_url=profile(base, "katherine-johnson"))
    connected = run(lincoln, "send_connection", profile_url=profile(base, "charles-babbage"))
    assert pending.result["status"] == "pending" and pending.result["sent"] is False
    assert connected.result["status"] == "already_connected" and connected.result["sent"] is False
    assert len(site.invitations) == before


def test_a_note_over_300_characters_is_rejected_with_a_clear_error(
    lincoln: Stack, linkedin: tuple[LinkedInSite, str]
) -> None:
    result = run(
        lincoln, "send_connection", profile_url=profile(linkedin[1], "edsger-dijkstra"), note="x" * 301
    )
    assert result.status == "rejected"
    assert "note" in (result.error or "") and "300 characters" in (result.error or "")


def test_send_message_only_to_a_connection(lincoln: Stack, linkedin: tuple[LinkedInSite, str]) -> None:
    site, base = linkedin
    ensure_logged_in(lincoln)
    sent = run(lincoln, "send_message", profile_url=profile(base, "charles-babbage"), text="Hello, Charles!")
    assert sent.status == "succeeded" and sent.result["sent"] is True, sent
    assert site.profiles["charles-babbage"].messages == ["Hello, Charles!"]
    again = run(lincoln, "send_message", profile_url=profile(base, "charles-babbage"), text="Hello, Charles!")
    assert again.result["status"] == "already_sent" and again.result["sent"] is False
    assert site.profiles["charles-babbage"].messages == ["Hello, Charles!"]
    refused = run(lincoln, "send_message", profile_url=profile(base, "edsger-dijkstra"), text="Hi")
    assert refused.result["sent"] is False and refused.result["status"] == "not_possible"
    assert site.profiles["edsger-dijkstra"].messages == []


def test_a_kill_between_send_and_ack_does_not_invite_twice(
    lincoln: Stack, linkedin: tuple[LinkedInSite, str]
) -> None:
    site, base = linkedin
    ensure_logged_in(lincoln)
    site.invite_latency = 3.0
    task_id = f"invite-{uuid.uuid4().hex[:8]}"
    try:
        with Client(lincoln.settings) as client:
            client.submit(
                Command(
                    id=task_id,
                    agent="lincoln",
                    action="send_connection",
                    params={"profile_url": profile(base, "margaret-hamilton")},
                )
            )
        deadline = time.monotonic() + 60
        while not any(i["slug"] == "margaret-hamilton" for i in site.invitations):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        os.kill(lincoln.pid("agents:lincoln"), signal.SIGKILL)
    finally:
        site.invite_latency = 0.0
    store = TaskStore.from_settings(lincoln.settings)
    deadline = time.monotonic() + 90
    while (store.get(task_id) or {}).get("status") != "succeeded":
        assert time.monotonic() < deadline, store.get(task_id)
        time.sleep(0.2)
    record = store.get(task_id)
    assert record is not None and record["attempts"] == 2
    assert record["result"]["status"] == "pending"
    assert [i["slug"] for i in site.invitations].count("margaret-hamilton") == 1


def test_over_quota_a_connection_is_deferred_and_nothing_is_sent(
    lincoln: Stack, linkedin: tuple[LinkedInSite, str]
) -> None:
    site, base = linkedin
    ensure_logged_in(lincoln)
    # Three invitations were sent above (grace, alan, margaret); the day's quota is 4.
    fourth = run(lincoln, "send_connection", profile_url=profile(base, "barbara-liskov"))
    assert fourth.result["status"] == "sent"
    before = len(site.invitations)
    store = TaskStore.from_settings(lincoln.settings)
    with Client(lincoln.settings) as client:
        deferred = client.submit(
            Command(
                agent="lincoln",
                action="send_connection",
                max_age=8 * 86400,
                params={"profile_url": profile(base, "edsger-dijkstra")},
            )
        )
        late = client.call(
            Command(
                agent="lincoln",
                action="send_connection",
                max_age=60,
                params={"profile_url": profile(base, "edsger-dijkstra")},
            ),
            timeout=60,
        )
    deadline = time.monotonic() + 30
    while (store.get(deferred) or {}).get("status") != "deferred":
        assert time.monotonic() < deadline, store.get(deferred)
        time.sleep(0.1)
    assert (
        "quota 'connect'" in store.get(deferred)["error"] and "deferred until" in store.get(deferred)["error"]
    )
    assert late.status == "rejected" and "after the command's max age" in (late.error or "")
    assert len(site.invitations) == before
    assert site.profiles["edsger-dijkstra"].state == "connect"
    # Over quota, a command with nothing to do is answered, not deferred: the quota is taken only at Send.
    pending = run(lincoln, "send_connection", profile_url=profile(base, "katherine-johnson"))
    assert pending.status == "succeeded" and pending.result["status"] == "pending", pending
    quotas = QuotaGate(store.client, store.names, "default", {"connect": QuotaLimit(day=4, week=100)})
    assert quotas.used("connect")[0] == 4  # grace, alan, margaret (killed and redelivered), barbara


def test_a_checkpoint_asks_for_a_human_and_carries_on_once_cleared(
    lincoln: Stack, linkedin: tuple[LinkedInSite, str]
) -> None:
    site, _ = linkedin
    site.sessions.clear()
    site.checkpoint_on_login = True
    store = TaskStore.from_settings(lincoln.settings)
    try:
        with Client(lincoln.settings) as client:
            task_id = client.submit(Command(agent="lincoln", action="login"), want_reply=True)
            deadline = time.monotonic() + 60
            while (store.get(task_id) or {}).get("status") != "needs_human":
                assert time.monotonic() < deadline, store.get(task_id)
                time.sleep(0.1)
            record = store.get(task_id)
            assert "a captcha" in record["error"] and f":{lincoln.settings.web.port}/" in record["error"]
            status = lincoln.zigral("status", task_id)
            assert "needs_human" in status.stdout and "novnc" in status.stdout
            # The operator, through the shared browser, solves the check.
            with sync_playwright() as pw:
                browser = pw.chromium.connect_over_cdp(lincoln.settings.cdp_url)
                page = next(p for p in browser.contexts[0].pages if "/checkpoint/" in p.url)
                page.locator("#verify").click()
            result = client.wait(task_id, timeout=60)
    finally:
        site.checkpoint_on_login = False
    assert result.status == "succeeded" and result.result["logged_in"] is True, result
    history = [h["status"] for h in store.history(task_id)]
    assert history == ["running", "needs_human", "running", "succeeded"]
    captures = (store.get(task_id) or {}).get("captures", [])
    assert any("needs-human" in path and path.endswith(".png") for path in captures), captures


def test_a_multi_line_message_arrives_as_written(lincoln: Stack, linkedin: tuple[LinkedInSite, str]) -> None:
    site, base = linkedin
    ensure_logged_in(lincoln)
    text = "Hello Ada,\nthe engine runs.\n\nCharles"
    sent = run(lincoln, "send_message", profile_url=profile(base, "ada-yonath"), text=text)
    assert sent.status == "succeeded" and sent.result["status"] == "sent", sent
    assert "last message" in sent.result["verified"]
    assert site.profiles["ada-yonath"].messages == [text]  # one message (Enter would have sent three)


def test_a_missing_profile_is_a_not_found_failure(lincoln: Stack, linkedin: tuple[LinkedInSite, str]) -> None:
    ensure_logged_in(lincoln)
    result = run(lincoln, "visit_profile", profile_url=profile(linkedin[1], "no-such-person"))
    assert result.status == "failed" and "not_found" in (result.error or ""), result


def test_a_kill_right_after_send_does_not_send_the_message_twice(
    lincoln: Stack, linkedin: tuple[LinkedInSite, str]
) -> None:
    site, base = linkedin
    ensure_logged_in(lincoln)
    text = "Are you free on Thursday?"
    task_id = f"message-{uuid.uuid4().hex[:8]}"
    site.message_latency = 3.0
    try:
        with Client(lincoln.settings) as client:
            client.submit(
                Command(
                    id=task_id,
                    agent="lincoln",
                    action="send_message",
                    params={"profile_url": profile(base, "charles-babbage"), "text": text},
                )
            )
        eventually(lambda: text in site.profiles["charles-babbage"].messages, "the message stored", 60)
        os.kill(lincoln.pid("agents:lincoln"), signal.SIGKILL)
    finally:
        site.message_latency = 0.0
    store = TaskStore.from_settings(lincoln.settings)
    record = eventually(
        lambda: (r := store.get(task_id)) and r.get("status") == "succeeded" and r, "the redelivery", 90
    )
    assert record["attempts"] == 2 and record["result"]["status"] == "already_sent"
    assert site.profiles["charles-babbage"].messages.count(text) == 1


def _wait_status(store: TaskStore, task_id: str, status: str, timeout: float = 60) -> dict[str, Any]:
    return eventually(lambda: (r := store.get(task_id)) and r.get("status") == status and r, status, timeout)


def test_after_a_login_wall_and_an_operator_sign_in_the_action_returns_its_own_target(
    lincoln: Stack, linkedin: tuple[LinkedInSite, str]
) -> None:
    site, base = linkedin
    site.sessions.clear()
    store = TaskStore.from_settings(lincoln.settings)
    with Client(lincoln.settings) as client:
        task_id = client.submit(
            Command(
                agent="lincoln", action="visit_profile", params={"profile_url": profile(base, "grace-hopper")}
            ),
            want_reply=True,
        )
        assert "login wall" in _wait_status(store, task_id, "needs_human")["error"]
        # The operator signs in through the shared browser; LinkedIn lands them on the feed, not the profile.
        with sync_playwright() as pw:
            browser = pw.chromium.connect_over_cdp(lincoln.settings.cdp_url)
            page = next(p for p in browser.contexts[0].pages if "/authwall" in p.url)
            page.locator("#username").fill(site.username)
            page.locator("#password").fill(site.password)
            page.get_by_role("button", name="Sign in").click()  # Lincoln takes the tab back from here
        result = client.wait(task_id, timeout=60)
    assert result.status == "succeeded", result
    assert result.result["name"] == "Grace Hopper" and result.result == {
        **site.expected_profile("grace-hopper"),
        "profile_url": profile(base, "grace-hopper"),
        "verified": result.result["verified"],
    }
    assert [h["status"] for h in store.history(task_id)] == ["running", "needs_human", "running", "succeeded"]


def test_a_checkpoint_cleared_out_of_band_is_noticed_within_the_recheck_interval(
    lincoln: Stack, linkedin: tuple[LinkedInSite, str]
) -> None:
    site, _ = linkedin
    ensure_logged_in(lincoln)
    site.cleared_checkpoints.clear()
    site.checkpoint_on_login = True  # every page now answers with the checkpoint
    store = TaskStore.from_settings(lincoln.settings)
    try:
        with Client(lincoln.settings) as client:
            task_id = client.submit(
                Command(agent="lincoln", action="search_people", params={"keywords": "engine", "limit": 2}),
                want_reply=True,
            )
            _wait_status(store, task_id, "needs_human")
            time.sleep(RECHECK)  # the browser sits on the checkpoint; nobody touches that tab
            site.clear_checkpoints_out_of_band()
            cleared = time.monotonic()
            result = client.wait(task_id, timeout=60)
            noticed = time.monotonic() - cleared
    finally:
        site.checkpoint_on_login = False
    assert result.status == "succeeded", result
    assert [p["name"] for p in result.result["people"]] == ["Grace Hopper", "Alan Turing"]
    assert noticed < RECHECK + 5, f"noticed {noticed:.1f}s after the checkpoint was cleared"
