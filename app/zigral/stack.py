"""``zigral up`` / ``down``: bring the whole supervised stack up, wait until it is really ready, stop it."""

from __future__ import annotations

import time

from zigral import doctor, supervision, tls
from zigral.config import Settings
from zigral.errors import NotReady
from zigral.render import render
from zigral.secrets import ensure_secrets


def wait_healthy(settings: Settings, timeout: float) -> list[doctor.Check]:
    """Run the doctor's checks until all pass; NotReady with the failing ones after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        results = doctor.run_checks(settings)
        failed = [r for r in results if not r.ok]
        if not failed:
            return results
        if time.monotonic() >= deadline:
            raise NotReady("; ".join(f"{r.name}: {r.detail}" for r in failed))
        time.sleep(0.5)


def up(settings: Settings, timeout: float = 120.0) -> str:
    """Generate secrets, render the configuration, start (or update) supervisord, wait for health."""
    started = time.monotonic()
    ensure_secrets(settings)
    render(settings)
    supervision.start(settings)
    wait_healthy(settings, timeout)
    return summary(settings, time.monotonic() - started)


def summary(settings: Settings, elapsed: float) -> str:
    p = settings.paths
    url = settings.web.public_url
    return "\n".join(
        [
            f"Zigral is up in {elapsed:.1f}s.",
            f"  noVNC:        {url}  (user {settings.web.user!r}; another name: ZIGRAL_WEB__PUBLIC_HOST)",
            f"  certificate:  SHA-256 {tls.fingerprint(tls.cert_key(settings)[0])}",
            f"  status page:  {url}status/",
            f"  captures:     {url}captures/  (files in {settings.captures.dir})",
            f"  web password: {p.web_password_file}",
            f"  VNC password: {p.vnc_password_file}"
            if settings.vnc.password
            else "  VNC password: none (one sign-in)",
            f"  logs:         {p.log_dir}",
            f"  ops:          .venv/bin/supervisorctl -c {p.supervisor_conf} status",
        ]
    )


def down(settings: Settings) -> str:
    return "Zigral stopped." if supervision.stop(settings) else "Zigral was not running."
