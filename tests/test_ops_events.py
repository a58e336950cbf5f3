"""The supervisor event listener: its protocol, and what it makes of each program's state changes."""

from __future__ import annotations

import io

import pytest

from zigral.ops.events import Event, ProgramTracker, Protocol, parse_tokens


def event(name: str, when: float = 0.0, **payload: str) -> tuple[Event, float]:
    return Event(
        f"PROCESS_STATE_{name}", {}, {"groupname": "chromium", "processname": "chromium", **payload}
    ), when


def feed(tracker: ProgramTracker, *events: tuple[Event, float]) -> None:
    for e, when in events:
        tracker.handle(e, now=when)


def test_tokens_are_split_into_keys_and_values() -> None:
    line = "ver:3.0 server:supervisor serial:21 pool:ops poolserial:10 eventname:TICK_5 len:15"
    assert parse_tokens(line) == {
        "ver": "3.0",
        "server": "supervisor",
        "serial": "21",
        "pool": "ops",
        "poolserial": "10",
        "eventname": "TICK_5",
        "len": "15",
    }


def test_the_protocol_says_ready_reads_one_event_and_answers_ok() -> None:
    payload = b"processname:lincoln groupname:agents from_state:RUNNING expected:0 pid:42"
    header = (
        "ver:3.0 server:supervisor serial:1 pool:ops poolserial:1 "
        f"eventname:PROCESS_STATE_EXITED len:{len(payload)}\n"
    )
    stdin = io.BytesIO(header.encode() + payload)
    stdout = io.BytesIO()
    proto = Protocol(stdin, stdout)
    got = proto.next()
    proto.ok()
    assert got is not None
    assert got.name == "PROCESS_STATE_EXITED"
    assert got.payload == {
        "processname": "lincoln",
        "groupname": "agents",
        "from_state": "RUNNING",
        "expected": "0",
        "pid": "42",
    }
    assert stdout.getvalue() == b"READY\nRESULT 2\nOK"
    assert proto.next() is None  # supervisord closed stdin


def test_group_members_are_named_as_supervisorctl_names_them() -> None:
    tracker = ProgramTracker(3, 60)
    tracker.handle(
        Event("PROCESS_STATE_RUNNING", {}, {"groupname": "agents", "processname": "shaun", "pid": "7"})
    )
    assert tracker.programs["agents:shaun"].state == "RUNNING"
    assert tracker.programs["agents:shaun"].pid == 7


def test_a_first_start_is_not_a_restart_but_a_crash_and_a_supervisorctl_restart_are() -> None:
    tracker = ProgramTracker(3, 60)
    feed(
        tracker,
        event("STARTING", 0, from_state="STOPPED"),
        event("RUNNING", 1, from_state="STARTING", pid="10"),
    )
    assert tracker.programs["chromium"].restarts == 0
    feed(
        tracker,
        event("EXITED", 5, from_state="RUNNING", expected="0", pid="10"),
        event("STARTING", 6, from_state="EXITED"),
        event("RUNNING", 7, from_state="STARTING", pid="11"),
        event("STOPPING", 8, from_state="RUNNING", pid="11"),
        event("STOPPED", 9, from_state="STOPPING", pid="11"),
        event("STARTING", 10, from_state="STOPPED"),
    )
    program = tracker.programs["chromium"]
    assert program.restarts == 2
    assert program.unexpected_exits == 1
    assert program.state == "STARTING"
    assert program.since == 10


def test_an_expected_exit_is_not_counted_as_unexpected() -> None:
    tracker = ProgramTracker(3, 60)
    feed(tracker, event("EXITED", 1, from_state="RUNNING", expected="1", pid="3"))
    assert tracker.programs["chromium"].unexpected_exits == 0


def test_fatal_logs_an_alert_line(caplog: pytest.LogCaptureFixture) -> None:
    tracker = ProgramTracker(3, 60)
    feed(tracker, event("BACKOFF", 1, from_state="STARTING"), event("FATAL", 2, from_state="BACKOFF"))
    assert tracker.alerts == ["program chromium is FATAL: supervisor gave up starting it"]
    assert "ALERT program chromium is FATAL" in caplog.text


def test_three_crashes_within_the_window_are_a_crash_loop_that_ages_out() -> None:
    tracker = ProgramTracker(loop_restarts=3, loop_window=60)
    for t in (0, 10, 20):
        feed(
            tracker,
            event("EXITED", t, from_state="RUNNING", expected="0"),
            event("STARTING", t + 1, from_state="EXITED"),
        )
    program = tracker.programs["chromium"]
    assert program.crash_looping
    assert tracker.alerts == ["program chromium is crash looping: 3 unexpected exits in 60s"]
    tracker.refresh(now=75)  # the first exit left the window
    assert not program.crash_looping


def test_two_crashes_far_apart_are_no_crash_loop() -> None:
    tracker = ProgramTracker(loop_restarts=2, loop_window=60)
    feed(tracker, event("EXITED", 0, expected="0"), event("EXITED", 100, expected="0"))
    assert not tracker.programs["chromium"].crash_looping
    assert tracker.alerts == []


def test_seeding_takes_states_and_pids_from_supervisor() -> None:
    tracker = ProgramTracker(3, 60)
    tracker.seed(
        [
            {"name": "xvfb", "group": "xvfb", "statename": "RUNNING", "pid": 5, "start": 100},
            {"name": "lincoln", "group": "agents", "statename": "FATAL", "pid": 0, "start": 0},
        ],
        now=200,
    )
    assert tracker.programs["xvfb"].since == 100
    assert tracker.programs["xvfb"].pid == 5
    assert tracker.programs["agents:lincoln"].state == "FATAL"
