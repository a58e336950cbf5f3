from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

from zigral.config import load_settings
from zigral.errors import StackError
from zigral.launch import chromium_argv, clean_chromium_singletons, clean_stale_x_lock, run_websockify


def test_a_stale_x_lock_of_a_dead_server_is_removed() -> None:
    settings = load_settings(display={"number": 4999})
    dead = subprocess.Popen(["true"])
    dead.wait()
    settings.display.lock_path.write_text(f"{dead.pid:>10}\n")
    clean_stale_x_lock(settings)
    assert not settings.display.lock_path.exists()


def test_a_live_x_lock_is_respected() -> None:
    settings = load_settings(display={"number": 4998})
    settings.display.lock_path.write_text(f"{os.getpid():>10}\n")
    try:
        with pytest.raises(StackError, match="in use"):
            clean_stale_x_lock(settings)
    finally:
        settings.display.lock_path.unlink()


def test_chromium_singletons_of_a_dead_browser_are_removed(tmp_path: Path) -> None:
    (tmp_path / "SingletonLock").symlink_to("otherhost-999999999")
    (tmp_path / "SingletonSocket").symlink_to("/tmp/nowhere")
    (tmp_path / "Default").mkdir()
    clean_chromium_singletons(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Default"]


def test_chromium_keeps_cdp_on_loopback_and_never_allows_every_origin() -> None:
    argv = chromium_argv(load_settings())
    assert "--remote-debugging-address=127.0.0.1" in argv
    assert not any(a.startswith("--remote-allow-origins") for a in argv)
    assert "--no-sandbox" not in argv
    for flag in (
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
    ):
        assert flag in argv


def test_webrtc_may_send_no_udp_the_proxy_does_not_carry() -> None:
    argv = chromium_argv(load_settings())
    assert "--webrtc-ip-handling-policy=disable_non_proxied_udp" in argv
    assert argv.index("--webrtc-ip-handling-policy=disable_non_proxied_udp") < len(argv) - 1  # not the URL


def test_websockify_fails_at_once_when_its_port_is_taken_instead_of_exiting_0() -> None:
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        settings = load_settings(web={"websockify_port": port})
        with pytest.raises(StackError, match=f"websockify cannot listen on 127.0.0.1:{port}"):
            run_websockify(settings)
