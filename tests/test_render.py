from __future__ import annotations

import os
import pwd
import stat
import subprocess
from pathlib import Path

import pytest
from supervisor.options import ServerOptions

from zigral import access
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


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root (gives the captures to nginx's group)")
def test_logs_captures_and_rendered_configs_are_not_world_readable(open_dir: Path) -> None:
    settings = settings_under(open_dir)
    old_log = settings.paths.log_dir / "chromium.log"
    old_log.parent.mkdir(parents=True)
    old_log.write_text("from a stack before this one\n")
    os.chmod(old_log, 0o644)
    ensure_secrets(settings)
    render(settings)
    p = settings.paths
    for conf in (p.supervisor_conf, p.nginx_conf, p.squid_conf, p.env_file):
        assert stat.S_IMODE(conf.stat().st_mode) == 0o600, conf
    assert stat.S_IMODE(p.log_dir.stat().st_mode) & 0o004 == 0  # nobody else lists the logs
    assert stat.S_IMODE(old_log.stat().st_mode) & 0o007 == 0
    assert "umask=027" in p.supervisor_conf.read_text().replace(" ", "")
    www = pwd.getpwnam(settings.web.nginx_worker_user)
    for folder in (settings.captures.dir, settings.captures.dir / "screenshots"):
        st = folder.stat()
        assert (st.st_uid, st.st_gid) == (0, www.pw_gid)
        assert stat.S_IMODE(st.st_mode) == 0o2750, folder  # others cannot enter; new folders keep the group
    assert access.blocker(settings.captures.dir, settings.web.nginx_worker_user) is None
    assert access.blocker(p.htpasswd_file, settings.web.nginx_worker_user) is None
