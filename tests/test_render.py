from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest
from supervisor.options import ServerOptions

from zigral.config import Settings, load_settings
from zigral.errors import ConfigError
from zigral.render import fill, render
from zigral.secrets import ensure_secrets


def test_an_unknown_placeholder_is_an_error() -> None:
    with pytest.raises(ConfigError, match="nope"):
        fill("a {{nope}} b", {})


def settings_under(base: Path, captures: Path | None = None) -> Settings:
    return load_settings(
        paths={"state_dir": base / "s", "run_dir": base / "r", "log_dir": base / "l"},
        captures={"dir": captures or base / "c"},
    )


def test_the_rendered_supervisord_conf_declares_every_program(open_dir: Path) -> None:
    settings = settings_under(open_dir)
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


def test_the_rendered_nginx_conf_is_valid_for_nginx(open_dir: Path) -> None:
    if not Path("/usr/sbin/nginx").exists():
        pytest.skip("nginx is not installed")
    settings = settings_under(open_dir)
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


def test_the_served_pages_are_copied_into_the_run_directory_for_nginx(open_dir: Path) -> None:
    settings = settings_under(open_dir)
    render(settings)
    web = settings.paths.web_dir
    assert sorted(p.name for p in web.iterdir()) == ["index.html", "status.html"]
    shipped = settings.paths.share_dir / "web" / "status.html"
    assert (web / "status.html").read_bytes() == shipped.read_bytes()
    assert stat.S_IMODE((web / "index.html").stat().st_mode) == 0o644
    assert f"root {web};" in settings.paths.nginx_conf.read_text()


def test_captures_nginx_cannot_reach_are_refused_naming_the_directory(open_dir: Path) -> None:
    private = open_dir / "private"
    private.mkdir(mode=0o700)
    settings = settings_under(open_dir, captures=private / "captures")
    with pytest.raises(ConfigError, match=rf"www-data cannot enter {private} \(mode drwx------\)") as caught:
        render(settings)
    assert "ZIGRAL_CAPTURES__DIR" in str(caught.value)
    os.chmod(private, 0o711)
    render(settings)  # traversable is enough: nginx lists captures/, not its parents
