"""Launchers for the supervised programs: ``zigral exec PART``.

Each launcher waits for what its program needs (the X socket, the VNC port), cleans what a crash
leaves behind (stale X locks, Chromium's Singleton files), then replaces itself with the program,
so that supervisor manages the real process (Chromium's launcher stays as its parent: see there).
Waiting instead of failing keeps slow boots from ending FATAL.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import json
import logging
import os
import pwd
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from zigral import egress, peers, probes, room, xauth
from zigral.config import Settings
from zigral.errors import NotReady, StackError

log = logging.getLogger(__name__)

# Flags that keep Chromium quiet on a closed network and stable in a small /dev/shm.
CHROMIUM_QUIET_FLAGS = (
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-domain-reliability",
    "--disable-breakpad",
    "--disable-features=Translate,MediaRouter,OptimizationHints",
    "--disable-dev-shm-usage",
    "--password-store=basic",
    "--hide-crash-restore-bubble",
    "--noerrdialogs",
)

# WebRTC may not send UDP the proxy does not carry (an HTTP proxy carries none): without this a page's STUN
# requests go straight to any address, loopback included, and reveal the machine's real IP behind the
# user's proxy. (--force-webrtc-ip-handling-policy does nothing in this build.)
CHROMIUM_WEBRTC_FLAGS = ("--webrtc-ip-handling-policy=disable_non_proxied_udp",)

CHROMIUM_SINGLETONS = ("SingletonLock", "SingletonSocket", "SingletonCookie")
CHROMIUM_CLOSE_GRACE = 10.0  # seconds for Chromium to close its windows before it gets SIGTERM
PR_SET_PDEATHSIG = 1


def wait_forever(probe: Callable[[], object], what: str, report_every: float = 10.0) -> None:
    """Wait until ``probe`` succeeds, logging why every ``report_every`` seconds."""
    while True:
        try:
            probes.wait_for(probe, what, timeout=report_every)
            return
        except NotReady as exc:
            log.warning("still waiting: %s", exc)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale_x_lock(settings: Settings) -> None:
    """Remove the display's lock and socket when the server that held them is gone."""
    lock = settings.display.lock_path
    try:
        pid = int(lock.read_text().strip())
    except FileNotFoundError:
        pid = 0
    except ValueError:
        pid = -1  # unreadable lock: treat as stale
    if pid > 0 and _pid_alive(pid):
        raise StackError(
            f"display {settings.display.name} is in use by pid {pid}; set ZIGRAL_DISPLAY__NUMBER"
        )
    if pid != 0:
        log.info("removing stale X lock %s", lock)
        lock.unlink(missing_ok=True)
    settings.display.socket_path.unlink(missing_ok=True)


def clean_chromium_singletons(profile: Path) -> None:
    """Remove Singleton* files a killed Chromium left in the profile, unless it still runs."""
    lock = profile / "SingletonLock"
    try:
        target = os.readlink(lock)  # "hostname-pid"
    except OSError:
        target = ""
    pid_text = target.rpartition("-")[2]
    if pid_text.isdigit() and _pid_alive(int(pid_text)):
        exe = ""
        with contextlib.suppress(OSError):
            exe = os.readlink(f"/proc/{pid_text}/exe")
        if "chromium" in exe:
            raise StackError(f"Chromium pid {pid_text} still uses profile {profile}")
    for name in CHROMIUM_SINGLETONS:
        path = profile / name
        if path.is_symlink() or path.exists():
            log.info("removing stale %s", path)
            path.unlink()


def chown_tree(path: Path, uid: int, gid: int) -> None:
    """Give ``path`` and everything below it to uid:gid (the profile must belong to the browser user)."""
    os.chown(path, uid, gid)
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.lchown(os.path.join(root, name), uid, gid)


def proxy_args(settings: Settings) -> list[str]:
    """Every request through the egress proxy, loopback included (``<-loopback>`` undoes Chromium's
    implicit bypass of localhost), so that the proxy judges all of them."""
    if not settings.egress.enabled:
        return []
    return [f"--proxy-server=http://127.0.0.1:{settings.egress.port}", "--proxy-bypass-list=<-loopback>"]


def chromium_argv(settings: Settings) -> list[str]:
    b, d = settings.browser, settings.display
    return [
        str(b.binary),
        f"--remote-debugging-port={b.cdp_port}",
        "--remote-debugging-address=127.0.0.1",
        f"--user-data-dir={settings.profile_dir}",
        "--start-maximized",
        "--window-position=0,0",
        f"--window-size={d.width},{d.height}",
        *CHROMIUM_QUIET_FLAGS,
        *CHROMIUM_WEBRTC_FLAGS,
        *proxy_args(settings),
        *b.extra_args,
        b.start_url,
    ]


def _exec(argv: list[str], env: dict[str, str] | None = None) -> NoReturn:
    log.info("exec %s", argv[0])
    sys.stdout.flush()
    sys.stderr.flush()
    os.execvpe(argv[0], argv, env if env is not None else dict(os.environ))


def run_xvfb(settings: Settings) -> NoReturn:
    """Xvfb demands the display's cookie of every client (-auth): no other local user may open it."""
    clean_stale_x_lock(settings)
    xauth.ensure_cookie(settings)
    auth = xauth.write_xauthority(settings, xauth.server_file(settings))
    os.chmod(auth.parent, 0o700)
    d = settings.display
    argv = ["Xvfb", d.name, "-screen", "0", f"{d.width}x{d.height}x{d.depth}", "-nolisten", "tcp", "-noreset"]
    _exec([*argv, "-auth", str(auth)])


def _display_env(settings: Settings) -> dict[str, str]:
    return {**os.environ, "DISPLAY": settings.display.name, "XAUTHORITY": str(xauth.server_file(settings))}


def wait_for_display(settings: Settings) -> None:
    """Until the display answers a client that shows its cookie (the cookie may still be on its way)."""

    def probe() -> str:
        try:
            cookie = xauth.read_cookie(settings)
        except (OSError, ValueError) as exc:
            raise NotReady(f"the display's cookie: {exc}") from None
        return probes.x_display(settings.display.socket_path, cookie=cookie)

    wait_forever(probe, "X display")


def run_wm(settings: Settings) -> NoReturn:
    wait_for_display(settings)
    _exec(["openbox"], _display_env(settings))


def run_x11vnc(settings: Settings) -> NoReturn:
    wait_for_display(settings)
    limit = settings.vnc.max_open_files
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
    port = settings.vnc.port
    argv = ["x11vnc", "-display", settings.display.name, "-rfbport", str(port), "-localhost", "-noipv6"]
    argv += ["-shared", "-forever", "-noxdamage", "-quiet"]
    if settings.vnc.password:
        argv += ["-rfbauth", str(settings.paths.vnc_rfbauth_file)]
    else:
        argv += ["-nopw"]
    if not settings.browser.isolated:
        if not settings.vnc.password:
            raise StackError(
                "ZIGRAL_VNC__PASSWORD=false needs ZIGRAL_BROWSER__ISOLATED (x11vnc behind a door)"
            )
        _exec(argv, _display_env(settings))
    # Its own closed room: 127.0.0.1:<vnc port> outside is a door for root's sockets (websockify, doctor, an
    # SSH tunnel as root); no other local user reaches the VNC server, with or without its password.
    closed = room.Room()
    room.serve(
        room.host_listener(port),
        lambda: closed.connect(port),
        "vnc",
        admit=lambda conn: peers.uid_allowed(conn, frozenset({0, os.geteuid()})),
    )
    server = subprocess.Popen(argv, env=_display_env(settings), preexec_fn=lambda: _enter_for_life(closed.fd))
    signal.signal(signal.SIGTERM, lambda signum, frame: server.terminate())
    code = server.wait()
    sys.exit(code if code >= 0 else 128 - code)


def _enter_for_life(room_fd: int) -> None:
    """In a child before exec: into the room, and die with the launcher (its doors die with it)."""
    room.enter(room_fd)
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def run_chromium(settings: Settings) -> NoReturn:
    """Unlike the other launchers this one stays as Chromium's parent: on SIGTERM it closes the browser's
    windows through CDP, so that Chromium shuts down the normal way and keeps its cookies."""
    wait_for_display(settings)
    if settings.egress.enabled:
        wait_forever(lambda: probes.tcp(settings.egress.port), "egress proxy")
    user = pwd.getpwnam(settings.browser.user)
    profile = settings.profile_dir
    profile.mkdir(parents=True, exist_ok=True)
    clean_chromium_singletons(profile)
    chown_tree(profile, user.pw_uid, user.pw_gid)
    home = settings.paths.state_dir / "browser-home"
    home.mkdir(parents=True, exist_ok=True)
    chown_tree(home, user.pw_uid, user.pw_gid)
    for private in (profile, home):  # cookies and logins: the browser user's alone
        os.chmod(private, 0o700)
    own_xauth = xauth.write_xauthority(settings, home / ".Xauthority", user.pw_uid, user.pw_gid)
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "USER": user.pw_name,
        "DISPLAY": settings.display.name,
        "XAUTHORITY": str(own_xauth),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
    }

    room_fd = open_doors(settings) if settings.browser.isolated else None

    def drop_privileges() -> None:
        # Into the closed room first (entering needs root). The unprivileged user keeps Chromium's sandbox
        # on. The parent-death signal is set after setuid (which clears it): if this launcher is killed,
        # the browser goes with it (and the doors, which are this launcher's threads).
        if room_fd is not None:
            room.enter(room_fd)
        os.initgroups(user.pw_name, user.pw_gid)
        os.setgid(user.pw_gid)
        os.setuid(user.pw_uid)
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)

    browser = subprocess.Popen(chromium_argv(settings), env=env, preexec_fn=drop_privileges)
    stopping: list[float] = []

    def stop(signum: int, _frame: object) -> None:
        if not stopping:
            stopping.append(time.monotonic())
            log.info("closing Chromium's windows so that it flushes its profile")
            close_all_tabs(settings.browser.cdp_port)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while True:
        try:
            code = browser.wait(timeout=1)
            break
        except subprocess.TimeoutExpired:
            if stopping and time.monotonic() - stopping[0] > CHROMIUM_CLOSE_GRACE:
                browser.terminate()  # it did not close by itself: the plain signal
    sys.exit(code if code >= 0 else 128 - code)


def open_doors(settings: Settings) -> int:
    """Make the browser's closed room and open its two doors (see room.py); returns the room's fd.

    Proxy door: 127.0.0.1:<egress port> in the room -> squid outside, each request signed with the door's
    password (squid serves nobody else). CDP door: 127.0.0.1:<cdp port>
    outside -> Chromium in the room, for root's connections only (the agents, ops and doctor run as root).
    """
    closed = room.Room()
    port, cdp = settings.egress.port, settings.browser.cdp_port
    if settings.egress.enabled:
        password = egress.door_password_file(settings).read_text().strip()
        token = base64.b64encode(f"{egress.DOOR_USER}:{password}".encode()).decode()
        room.serve(
            closed.listen(port),
            lambda: socket.create_connection(("127.0.0.1", port), timeout=5),
            "proxy",
            forward=room.adding_header(f"Proxy-Authorization: Basic {token}".encode()),
        )
    admitted = frozenset({0, os.geteuid()})
    room.serve(
        room.host_listener(cdp),
        lambda: closed.connect(cdp),
        "cdp",
        admit=lambda conn: peers.uid_allowed(conn, admitted),
    )
    log.info("browser room %s: interfaces %s", os.readlink(f"/proc/self/fd/{closed.fd}"), closed.interfaces())
    return closed.fd


def close_all_tabs(cdp_port: int) -> None:
    """Close every tab through CDP's HTTP endpoint. With its last window closed Chromium shuts down the
    normal way and writes cookies and logins to the profile; a SIGTERM can lose the last ones."""
    base = f"http://127.0.0.1:{cdp_port}/json"
    try:
        with urllib.request.urlopen(f"{base}/list", timeout=2) as resp:
            targets = json.load(resp)
        for target in targets:
            if target.get("type") == "page":
                urllib.request.urlopen(f"{base}/close/{target['id']}", timeout=2).close()
    except (OSError, ValueError) as exc:
        log.warning("could not close Chromium's tabs (%s); it gets a plain SIGTERM", exc)


def _require_free_port(port: int, who: str) -> None:
    """Fail at once when ``port`` is taken: within supervisor's startsecs, so a squatted port ends FATAL."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            raise StackError(f"{who} cannot listen on 127.0.0.1:{port}: {exc.strerror}") from None


def run_websockify(settings: Settings) -> NoReturn:
    # websockify exits 0 when its port is taken, which supervisor would restart forever as a normal exit.
    _require_free_port(settings.web.websockify_port, "websockify")
    wait_forever(lambda: probes.rfb_banner(settings.vnc.port), "VNC server")
    listen = f"127.0.0.1:{settings.web.websockify_port}"
    _exec([sys.executable, "-m", "websockify", listen, f"127.0.0.1:{settings.vnc.port}"])


def run_squid(settings: Settings) -> NoReturn:
    """squid in the foreground (-N); its run and log dirs belong to the user it drops to."""
    proxy = pwd.getpwnam("proxy")
    for directory in (settings.paths.run_dir / "squid", settings.paths.log_dir / "squid"):
        directory.mkdir(parents=True, exist_ok=True)
        chown_tree(directory, proxy.pw_uid, proxy.pw_gid)
    (settings.paths.run_dir / "squid" / "squid.pid").unlink(missing_ok=True)  # stale after a crash
    _exec([str(settings.egress.binary), "-N", "-d", "1", "-f", str(settings.paths.squid_conf)])


def run_nginx(settings: Settings) -> NoReturn:
    if shutil.which(str(settings.web.nginx_binary)) is None:
        raise StackError(f"nginx not found at {settings.web.nginx_binary} (ZIGRAL_WEB__NGINX_BINARY)")
    prefix = settings.paths.run_dir / "nginx"
    error_log = settings.paths.log_dir / "nginx-error.log"
    argv = [str(settings.web.nginx_binary), "-p", str(prefix), "-e", str(error_log)]
    _exec([*argv, "-c", str(settings.paths.nginx_conf)])


PARTS: dict[str, Callable[[Settings], NoReturn]] = {
    "xvfb": run_xvfb,
    "wm": run_wm,
    "x11vnc": run_x11vnc,
    "chromium": run_chromium,
    "websockify": run_websockify,
    "nginx": run_nginx,
    "squid": run_squid,
}


def run_part(name: str, settings: Settings) -> NoReturn:
    try:
        launcher = PARTS[name]
    except KeyError:
        raise StackError(f"unknown part {name!r}; one of {', '.join(PARTS)}") from None
    launcher(settings)
