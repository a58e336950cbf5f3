from __future__ import annotations

import grp
import stat
from pathlib import Path

from zigral.config import load_settings
from zigral.secrets import ensure_secrets, vnc_rfbauth


def test_the_rfbauth_file_is_what_x11vnc_storepasswd_writes() -> None:
    # Reference bytes written by `x11vnc -storepasswd secret12 FILE`.
    assert vnc_rfbauth("secret12") == bytes.fromhex("24b5ae4ce15503c6")


def test_secrets_are_generated_once_private_and_never_overwritten(tmp_path: Path) -> None:
    settings = load_settings(paths={"state_dir": tmp_path})
    created = ensure_secrets(settings)
    p = settings.paths
    assert set(created) == {
        p.vnc_password_file,
        p.vnc_rfbauth_file,
        p.web_password_file,
        p.htpasswd_file,
        p.secrets_dir / "x11.cookie",
        p.state_dir / "web-tls.crt",
        p.secrets_dir / "web-tls.key",
        p.secrets_dir / "egress-door.password",
        p.state_dir / "egress-door.passwd",
    }
    first = {path: path.read_bytes() for path in created}
    assert stat.S_IMODE(p.web_password_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(p.htpasswd_file.stat().st_mode) == 0o640
    assert p.htpasswd_file.read_text().startswith("operator:$6$")
    assert ensure_secrets(settings) == []
    assert {path: path.read_bytes() for path in created} == first


def test_the_secrets_folder_is_roots_alone_and_nginx_reads_only_the_hash_outside_it(tmp_path: Path) -> None:
    settings = load_settings(paths={"state_dir": tmp_path})
    ensure_secrets(settings)
    p = settings.paths
    assert stat.S_IMODE(p.secrets_dir.stat().st_mode) == 0o700
    assert p.secrets_dir not in p.htpasswd_file.parents
    assert p.htpasswd_file.stat().st_gid == grp.getgrnam(settings.web.nginx_worker_user).gr_gid
    for path in p.secrets_dir.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
