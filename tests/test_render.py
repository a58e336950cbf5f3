from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from supervisor.options import ServerOptions

from zigral.config import load_settings
from zigral.errors import ConfigError
from zigral.render import fill, render
from zigral.secrets import ensure_secrets


def test_an_unknown_placeholder_is_an_error() -> None:
    with pytest.raises(ConfigError, match="nope"):
        fill("a {{nope}} b", {})


def test_the_rendered_supervisord_conf_declares_every_program(tmp_path: Path) -> None:
    settings = load_settings(
        paths={"state_dir": tmp_path / "s", "run_dir": tmp_path / "r", "log_dir": tmp_path / "l"},
        captures={"dir": tmp_path / "c"},
    )
    render(settings)
    options = ServerOptions()
    options.realize(args=["-c", str(settings.paths.supervisor_conf)])
    programs = {p.name for group in options.process_group_configs for p in group.process_configs}
    assert programs == {
        "xvfb",
        "wm",
        "x11vnc",
        "squid",
        "chromium",
        "websockify",
        "nginx",
        "lincoln",
        "shaun",
        "ops",  # the [eventlistener:ops]
    }
    chromium = next(
        p for g in options.process_group_configs for p in g.process_configs if p.name == "chromium"
    )
    # TERM goes to the launcher alone (it closes Chromium's windows so cookies are written); a hung browser
    # is killed with its whole group, so no Chromium process is ever left.
    assert chromium.killasgroup and not chromium.stopasgroup
    assert options.server_configs[0]["family"] == 1  # AF_UNIX: no inet_http_server
    assert options.server_configs[0]["chmod"] == 0o700


def test_the_rendered_nginx_conf_is_valid_for_nginx(tmp_path: Path) -> None:
    if not Path("/usr/sbin/nginx").exists():
        pytest.skip("nginx is not installed")
    settings = load_settings(
        paths={"state_dir": tmp_path / "s", "run_dir": tmp_path / "r", "log_dir": tmp_path / "l"},
        captures={"dir": tmp_path / "c"},
    )
    ensure_secrets(settings)
    render(settings)
    conf = settings.paths.nginx_conf
    done = subprocess.run(
        [
            "/usr/sbin/nginx",
            "-t",
            "-p",
            str(settings.paths.run_dir / "nginx"),
            "-e",
            "stderr",
            "-c",
            str(conf),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    text = conf.read_text()
    assert "proxy_read_timeout 1d" in text
    assert str(settings.browser.cdp_port) not in text  # CDP is never forwarded
