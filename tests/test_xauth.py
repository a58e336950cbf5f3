from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from zigral.config import load_settings
from zigral.xauth import ensure_cookie, read_cookie, write_xauthority


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root (gives the file to another user)")
def test_the_xauthority_file_is_what_xauth_reads_and_private_to_its_user(tmp_path: Path) -> None:
    settings = load_settings(
        paths={"state_dir": tmp_path / "s", "run_dir": tmp_path / "r"}, display={"number": 77}
    )
    assert ensure_cookie(settings) and not ensure_cookie(settings)  # made once
    cookie = read_cookie(settings)
    assert len(cookie) == 16
    path = write_xauthority(settings, tmp_path / "x" / "auth", uid=65534, gid=65534)
    st = path.stat()
    assert stat.S_IMODE(st.st_mode) == 0o600 and (st.st_uid, st.st_gid) == (65534, 65534)
    listed = subprocess.run(["xauth", "-f", str(path), "list"], capture_output=True, text=True, check=True)
    assert listed.stdout.split()[-2:] == ["MIT-MAGIC-COOKIE-1", cookie.hex()]
    assert ":77" in listed.stdout.split()[0]
    assert os.stat(settings.paths.secrets_dir / "x11.cookie").st_mode & 0o077 == 0
