"""The README's first ten minutes from a fresh clone in a mode-0700 home (as /root is): the stack comes up
with the default captures and pages, doctor is green, and a capture is served through nginx."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from zigral.config import REPO_ROOT, to_env
from zigral.devstack import private_settings, purge_namespace
from zigral.doctor import web_tls
from zigral.secrets import read_secret
from zigral.testing.server import serve

from .conftest import require, services_available

pytestmark = pytest.mark.integration


@pytest.fixture
def home_clone() -> Iterator[Path]:
    """``git clone`` of this repository's committed main into a directory only root may enter."""
    home = Path(tempfile.mkdtemp(prefix="zigral-home-"))
    assert home.stat().st_mode & 0o777 == 0o700
    subprocess.run(["git", "clone", "--quiet", str(REPO_ROOT), str(home / "zigral")], check=True)
    yield home / "zigral"
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def open_base() -> Iterator[Path]:
    base = Path(tempfile.mkdtemp(prefix="zigral-first-"))
    os.chmod(base, 0o755)
    yield base
    shutil.rmtree(base, ignore_errors=True)


def test_a_clone_in_a_0700_home_comes_up_green_and_serves_a_capture_through_nginx(
    home_clone: Path, open_base: Path
) -> None:
    require("nginx", Path("/usr/sbin/nginx").exists())
    with serve() as site:
        site.page("/hello", "<title>hello</title><h1>Hello from the first ten minutes</h1>")
        settings = private_settings(
            open_base, runtime={"allow_private": [site.base.removeprefix("http://")]}
        )  # its own ports, display, state, run and log directories: nothing shared with another stack
        services_available(settings)
        env = {k: v for k, v in os.environ.items() if not k.startswith("ZIGRAL_")}
        env |= to_env(settings)
        for default in ("ZIGRAL_CAPTURES__DIR", "ZIGRAL_PATHS__SHARE_DIR"):  # what the clone decides
            del env[default]
        env["PYTHONPATH"] = str(home_clone / "app")  # the clone's own code, with this venv's packages

        def zigral(*args: str) -> subprocess.CompletedProcess[str]:
            argv = [sys.executable, "-m", "zigral.cli", *args]
            return subprocess.run(argv, cwd=home_clone, env=env, capture_output=True, text=True, timeout=300)

        try:
            up = zigral("up")
            assert up.returncode == 0, up.stdout + up.stderr
            captures = settings.paths.state_dir / "captures"
            assert f"(files in {captures})" in up.stdout, up.stdout
            doctor = zigral("doctor")
            assert doctor.returncode == 0, doctor.stdout + doctor.stderr
            shot = zigral(
                "submit", "lincoln", "navigate", "-p", f"url={site.url('/hello')}", "--capture", "--wait"
            )
            assert shot.returncode == 0, shot.stdout + shot.stderr
            result = json.loads(shot.stdout.split("\n", 1)[1])
            png = next(p for p in result["captures"] if p.endswith(".png"))
            assert (captures / png).is_file()
            password = read_secret(settings.paths.web_password_file)
            request = urllib.request.Request(f"https://127.0.0.1:{settings.web.port}/captures/{png}")
            token = base64.b64encode(f"{settings.web.user}:{password}".encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
            with urllib.request.urlopen(request, timeout=10, context=web_tls(settings)) as served:
                assert served.status == 200 and served.read(8) == b"\x89PNG\r\n\x1a\n"
        finally:
            zigral("down")
            purge_namespace(settings)
