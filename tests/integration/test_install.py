"""The install as a Python team would check it: a production venv built from the lock by an unprivileged
user, a wheel that carries the templates, and nginx's and squid's own logs rotated while they run."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from zigral import logrotate
from zigral.client import Client
from zigral.config import REPO_ROOT, load_settings
from zigral.doctor import web_tls
from zigral.messages import Command
from zigral.testing.server import serve

from .conftest import booted_stack, require, services_available

pytestmark = pytest.mark.integration

TEMPLATES = [
    "zigral/templates/nginx/nginx.conf.in",
    "zigral/templates/supervisor/supervisord.conf.in",
    "zigral/templates/squid/squid.conf.in",
    "zigral/templates/logrotate/zigral.conf.in",
    "zigral/templates/web/status.html",
    "zigral/templates/web/index.html",
]
TOOLS = {"pytest", "pytest-asyncio", "pillow", "pyyaml", "ruff", "mypy", "dramatiq"}


@pytest.fixture
def nobody_dir() -> Iterator[Path]:
    """A scratch directory owned by the unprivileged user ``nobody``."""
    base = Path(tempfile.mkdtemp(prefix="zigral-install-"))
    user = pwd.getpwnam("nobody")
    os.chown(base, user.pw_uid, user.pw_gid)
    yield base
    shutil.rmtree(base, ignore_errors=True)


def as_nobody(cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(cwd), "PYTHON": "/usr/bin/python3", "PIP_NO_INPUT": "1"}
    return subprocess.run(
        ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--", *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_an_unprivileged_user_builds_the_production_venv_from_the_lock_and_a_wheel_with_the_templates(
    nobody_dir: Path,
) -> None:
    require("Debian's python3 with venv", Path("/usr/bin/python3").exists())
    clone = nobody_dir / "zigral"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", ".*")
    shutil.copytree(REPO_ROOT, clone, symlinks=True, ignore=ignore)
    subprocess.run(["chown", "-R", "nobody:nogroup", str(clone)], check=True)

    built = as_nobody(clone, "bash", "deploy/venv.sh", "runtime")
    assert built.returncode == 0, built.stdout + built.stderr
    listed = as_nobody(clone, ".venv/bin/pip", "list", "--format=freeze")
    installed = {line.split("==")[0].lower() for line in listed.stdout.splitlines()}
    assert {"playwright", "pika", "redis", "supervisor"} <= installed
    assert not installed & TOOLS, f"test, lint or bench tools in the production venv: {installed & TOOLS}"

    wheel = as_nobody(clone, ".venv/bin/pip", "wheel", "-q", "--no-deps", "-w", "dist", ".")
    assert wheel.returncode == 0, wheel.stdout + wheel.stderr
    (whl,) = (clone / "dist").glob("zigral-*.whl")
    names = zipfile.ZipFile(whl).namelist()
    assert [t for t in TEMPLATES if t not in names] == []
    # Installed from the wheel (not the checkout), the package finds its templates inside itself.
    installed_wheel = as_nobody(
        clone, ".venv/bin/pip", "install", "-q", "--no-deps", "--force-reinstall", str(whl)
    )
    assert installed_wheel.returncode == 0, installed_wheel.stderr
    probe = (
        "from zigral.config import TEMPLATES_DIR as t; print(t); print(all((t / p).is_file() for p in %r))"
    )
    where = as_nobody(
        nobody_dir,
        str(clone / ".venv/bin/python"),
        "-c",
        probe % [p.removeprefix("zigral/templates/") for p in TEMPLATES],
    )
    assert where.returncode == 0, where.stderr
    path, found = where.stdout.split()
    assert "site-packages" in path and found == "True", where.stdout


def test_logrotate_rotates_nginx_and_squid_logs_and_both_write_on_in_fresh_files(tmp_path: Path) -> None:
    require("logrotate", shutil.which("logrotate") is not None)
    services_available(load_settings())
    with (
        serve() as site,
        booted_stack(runtime={"allow_private": [site.base.removeprefix("http://")]}) as stack,
    ):
        site.page("/before", "<title>before</title>")
        site.page("/after", "<title>after</title>")
        s = stack.settings
        logs = s.paths.log_dir
        web = f"https://127.0.0.1:{s.web.port}/"

        def browse(path: str) -> None:
            with Client(s) as client:
                done = client.call(
                    Command(agent="lincoln", action="navigate", params={"url": site.url(path)}), 120
                )
            assert done.status == "succeeded", done
            try:
                urllib.request.urlopen(web + path.strip("/"), timeout=5, context=web_tls(s)).close()
            except urllib.error.HTTPError as denied:  # 401 without credentials: logged all the same
                denied.close()

        browse("/before")
        conf = tmp_path / "zigral.conf"
        conf.write_text(logrotate.config(s))
        done = subprocess.run(
            ["logrotate", "--force", "--state", str(tmp_path / "state"), str(conf)],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr
        for name in ("nginx-access.log", "squid/access.log"):
            assert "before" in (logs / f"{name}.1").read_text(), f"{name} was not rotated"
        browse("/after")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            fresh = {name: (logs / name).read_text() for name in ("nginx-access.log", "squid/access.log")}
            if all("after" in text for text in fresh.values()):
                break
            time.sleep(0.5)
        for name, text in fresh.items():
            assert "after" in text and "before" not in text, f"{name} after the rotation: {text!r}"
            assert "after" not in (logs / f"{name}.1").read_text(), (
                f"{name}: still written to the rotated file"
            )
