"""Counting VNC viewers and the bytes sent to them from ``ss`` output."""

from __future__ import annotations

from zigral.ops.remoteview import SentCounter, parse_ss

SS = """\
0      0      127.0.0.1:5900 127.0.0.1:44350
\t cubic wscale:7,7 rto:204 rtt:0.05/0.02 bytes_sent:1086 bytes_acked:1086 bytes_received:15 segs_out:49
0      0      [::1]:5900 [::1]:51234
\t cubic rto:204 bytes_sent:40000 bytes_acked:40000 pacing_gain:2.88672
"""


def test_each_established_connection_is_keyed_by_its_addresses_with_its_bytes_sent() -> None:
    assert parse_ss(SS) == {"127.0.0.1:5900 127.0.0.1:44350": 1086, "[::1]:5900 [::1]:51234": 40000}


def test_no_connection_is_no_viewer() -> None:
    assert parse_ss("") == {}


def test_the_sent_total_only_grows_as_connections_come_and_go() -> None:
    counter = SentCounter()
    assert counter.update({"a": 100}) == 100
    assert counter.update({"a": 250, "b": 10}) == 260
    assert counter.update({"b": 30}) == 280  # "a" closed: what it sent stays counted
    assert counter.update({"a": 5}) == 285  # a new connection with the same addresses starts from 0
