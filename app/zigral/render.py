"""Render the annotated templates in ``supervisor/`` and ``nginx/`` from the Settings.

Placeholders are ``{{name}}``; an unknown placeholder is an error, so a template and the code
cannot drift apart silently.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import shlex
import stat
import sys
from pathlib import Path

from zigral import access, egress, tls
from zigral.config import TEMPLATES_DIR, Settings, to_env
from zigral.errors import ConfigError

TEMPLATES = TEMPLATES_DIR  # package data: links into the checkout, the files themselves in a wheel
# nginx's per-address request limit (every request, password guesses included), see nginx.conf.in.
WEB_RATE_PER_SECOND = 10
WEB_BURST = 120
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


def fill(template: str, values: dict[str, str]) -> str:
    def sub(match: re.Match[str]) -> str:
        try:
            return values[match.group(1)]
        except KeyError:
            raise ConfigError(f"template placeholder {{{{{match.group(1)}}}}} has no value") from None

    return _PLACEHOLDER.sub(sub, template)


def template_values(settings: Settings) -> dict[str, str]:
    p = settings.paths
    zigral = Path(sys.executable).with_name("zigral")
    return {
        "zigral": f"{shlex.quote(str(zigral))} --env-file {shlex.quote(str(p.env_file))}",
        "run_dir": str(p.run_dir),
        "log_dir": str(p.log_dir),
        "web_dir": str(p.web_dir),
        "supervisor_socket": str(p.supervisor_socket),
        "supervisor_pidfile": str(p.supervisor_pidfile),
        "supervisor_conf": str(p.supervisor_conf),
        "htpasswd_file": str(p.htpasswd_file),
        "vm_id": settings.vm_id,
        "browser_user": settings.browser.user,
        "cdp_port": str(settings.browser.cdp_port),
        "vnc_port": str(settings.vnc.port),
        "websockify_port": str(settings.web.websockify_port),
        "web_bind": settings.web.bind,
        "web_port": str(settings.web.port),
        "nginx_worker_user": settings.web.nginx_worker_user,
        "novnc_dir": str(settings.web.novnc_dir),
        "captures_dir": str(settings.captures.dir),
        "ops_port": str(settings.metrics.ops_port),
        "tls_cert": str(tls.cert_key(settings)[0]),
        "tls_key": str(tls.cert_key(settings)[1]),
        "web_rate": str(WEB_RATE_PER_SECOND),
        "web_burst": str(WEB_BURST),
    }


def agent_programs(settings: Settings, values: dict[str, str]) -> str:
    """The agents' group and one program per agent this VM runs (supervisor/agent.conf.in)."""
    agents = settings.enabled_agents()
    if not agents:
        return "; (no agent is enabled)\n"
    program = (TEMPLATES / "supervisor" / "agent.conf.in").read_text()
    blocks = [fill(program, {**values, "agent": agent}) for agent in agents]
    return f"[group:agents]\nprograms={','.join(agents)}\n\n" + "\n".join(blocks)


def prometheus_targets(settings: Settings) -> list[dict[str, object]]:
    """The agents' scrape targets in Prometheus's file_sd format (deploy/prometheus.yml reads the file)."""
    bind = "127.0.0.1" if settings.metrics.bind in ("0.0.0.0", "") else settings.metrics.bind
    return [
        {"targets": [f"{bind}:{settings.metrics_port(agent)}"], "labels": {"agent": agent}}
        for agent in settings.enabled_agents()
    ]


def _write(path: Path, content: str | bytes, mode: int) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(content.encode() if isinstance(content, str) else content)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def _publish_web(settings: Settings) -> None:
    """Copy the pages nginx serves (``shared/web``) into the run directory, readable by its workers.

    The checkout may sit where nginx's workers cannot go (a 0700 home); the run directory is the stack's own.
    """
    p = settings.paths
    p.web_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(p.web_dir, 0o755)
    for page in sorted((p.share_dir / "web").iterdir()):
        if page.is_file():
            _write(p.web_dir / page.name, page.read_bytes(), 0o644)


def _close_logs(log_dir: Path) -> None:
    """Logs are for root (and each program's own user): no other local user reads or lists them.

    supervisord runs with umask 027, so new files are 0640; files from an older stack lose their o bits here.
    """
    os.chmod(log_dir, 0o711)  # squid (user proxy) must still reach its own folder below it
    # supervisord opens its own log before it applies its umask: made here, it keeps this mode.
    os.close(os.open(log_dir / "supervisord.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640))
    for path in log_dir.rglob("*"):
        if not path.is_symlink():
            os.chmod(path, stat.S_IMODE(path.stat().st_mode) & ~0o007)


def _close_captures(settings: Settings) -> None:
    """Captures hold screenshots and HTML of signed-in pages: root writes them, nginx's workers read them
    through their group (setgid folders: what the agents add keeps the group), nobody else enters."""
    gid = pwd.getpwnam(settings.web.nginx_worker_user).pw_gid
    root = settings.captures.dir
    for directory in (root, *(root / sub for sub in ("screenshots", "html"))):
        directory.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:  # a render without root (make test-unit) cannot give them away
            os.chown(directory, 0, gid)
            os.chmod(directory, 0o2750)


def render(settings: Settings) -> list[Path]:
    """Create the stack's directories and write its supervisord.conf, nginx.conf and env file.

    Refuses (``ConfigError``) when nginx's worker user could not reach what it serves.
    """
    p = settings.paths
    for directory in (p.run_dir, p.log_dir, p.run_dir / "nginx"):
        directory.mkdir(parents=True, exist_ok=True)
    os.chmod(p.run_dir, 0o755)  # nginx's workers read the pages below it; every file in it is 0600
    p.state_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(p.state_dir, 0o755)  # the browser user must reach its profile below it
    _close_logs(p.log_dir)
    _close_captures(settings)
    _publish_web(settings)
    access.require_reachable(
        {
            "the web pages": p.web_dir,
            "the noVNC client": settings.web.novnc_dir,
            "the captures": settings.captures.dir,
        },
        settings.web.nginx_worker_user,
    )
    values = {**template_values(settings), **egress.template_values(settings)}
    values["agent_programs"] = agent_programs(settings, values)
    conf = fill((TEMPLATES / "supervisor" / "supervisord.conf.in").read_text(), values)
    nginx = fill((TEMPLATES / "nginx" / "nginx.conf.in").read_text(), values)
    squid = fill((TEMPLATES / "squid" / "squid.conf.in").read_text(), values)
    env = "".join(f"{key}={shlex.quote(value)}\n" for key, value in sorted(to_env(settings).items()))
    # The env file holds the broker and Redis URLs, which may carry passwords.
    _write(p.env_file, env, 0o600)
    _write(p.supervisor_conf, conf, 0o600)
    _write(p.nginx_conf, nginx, 0o600)  # nginx's master reads it as root
    _write(p.squid_conf, squid, 0o600)  # may hold the upstream proxy's credentials
    targets = json.dumps(prometheus_targets(settings), indent=2) + "\n"
    _write(p.prometheus_targets, targets, 0o644)  # Prometheus's own user reads it; it holds no secret
    return [p.supervisor_conf, p.nginx_conf, p.squid_conf, p.env_file, p.prometheus_targets]
