"""The stack recovers from crashes, stops cleanly, and boots without its services."""

from __future__ import annotations

import os
import signal
import time

import psutil
import pytest

from zigral import probes, stack
from zigral.supervision import process_states

from .conftest import Stack, booted_stack, eventually, free_port

pytestmark = pytest.mark.integration


def test_a_killed_chromium_is_restarted_and_cdp_answers_again(running_stack: Stack) -> None:
    port = running_stack.settings.browser.cdp_port
    old = running_stack.pid("chromium")
    os.kill(old, signal.SIGKILL)
    eventually(lambda: running_stack.pid("chromium") not in (0, old), "a new chromium pid", 30)
    version = probes.wait_for(lambda: probes.cdp_version(port), "CDP", timeout=30)
    assert version["Browser"].startswith("Chrome/")
    eventually(lambda: running_stack.states()["chromium"] == "RUNNING", "chromium RUNNING", 10)


def test_stopping_chromium_leaves_no_chromium_process(running_stack: Stack) -> None:
    probes.wait_for(lambda: probes.cdp_version(running_stack.settings.browser.cdp_port), "CDP", timeout=30)
    browser = psutil.Process(running_stack.pid("chromium"))
    family = [browser, *browser.children(recursive=True)]
    assert len(family) > 3  # zygotes, GPU, network service, renderers
    done = running_stack.zigral("status")  # supervisorctl works through the stack's own socket
    assert "chromium" in done.stdout
    from zigral.supervision import ctl

    assert ctl(running_stack.settings, "stop", "chromium").returncode == 0
    _, alive = psutil.wait_procs(family, timeout=10)
    assert alive == []
    profile = str(running_stack.settings.profile_dir)
    leftovers = [p for p in psutil.process_iter(["cmdline"]) if profile in " ".join(p.info["cmdline"] or [])]
    assert leftovers == []
    assert ctl(running_stack.settings, "start", "chromium").returncode == 0


def test_up_twice_in_a_row_is_safe_and_restarts_nothing(running_stack: Stack) -> None:
    before = {name: running_stack.pid(name) for name in ("xvfb", "nginx", "x11vnc")}
    out = stack.up(running_stack.settings, timeout=60)
    assert "Zigral is up" in out
    assert {name: running_stack.pid(name) for name in before} == before
    assert set(process_states(running_stack.settings).values()) == {"RUNNING"}


def test_the_stack_starts_while_rabbitmq_and_redis_are_unreachable() -> None:
    dead_redis, dead_amqp = free_port(), free_port()
    with booted_stack(
        wait=False,
        redis={"url": f"redis://127.0.0.1:{dead_redis}/0"},
        rabbitmq={"url": f"amqp://guest:guest@127.0.0.1:{dead_amqp}/%2F"},
    ) as s:
        probes.wait_for(lambda: probes.cdp_version(s.settings.browser.cdp_port), "CDP", timeout=60)
        time.sleep(8)  # past every program's startsecs and a few agent retries
        states = s.states()
        assert set(states.values()) == {"RUNNING"}, states
        doctor = s.zigral("doctor")
        assert doctor.returncode == 1
        failing = {line.split()[0] for line in doctor.stdout.splitlines() if " FAIL " in line}
        assert failing == {"redis", "rabbitmq"}
