"""Generated secrets: made once into the state directory, never overwritten, never printed.

No password ever goes on a command line: the tools that hash them read standard input.
"""

from __future__ import annotations

import grp
import os
import secrets
import subprocess
from pathlib import Path

from zigral import egress, tls, xauth
from zigral.config import Settings
from zigral.errors import StackError

# VNC's password file is the password DES-encrypted with this fixed key (bits reversed per byte),
# the format x11vnc's -rfbauth reads. The key is public; the file is only obfuscation, hence mode 0600.
_VNC_DES_KEY = "e84ad660c4721ae0"


def _write_private(path: Path, data: bytes, group: str | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700 if group is None else 0o755)
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    if group is not None:
        os.chown(tmp, 0, grp.getgrnam(group).gr_gid)
        os.chmod(tmp, 0o640)
    os.replace(tmp, path)


def _run(argv: list[str], stdin: bytes) -> bytes:
    try:
        done = subprocess.run(argv, input=stdin, capture_output=True, check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise StackError(f"{argv[0]} failed while generating a secret: {exc}") from None
    return done.stdout


def vnc_rfbauth(password: str) -> bytes:
    """The ``-rfbauth`` file content for ``password`` (VNC uses its first 8 bytes)."""
    block = password.encode()[:8].ljust(8, b"\0")
    argv = ["openssl", "enc", "-des-ecb", "-provider", "legacy", "-provider", "default"]
    return _run([*argv, "-K", _VNC_DES_KEY, "-nopad"], block)


def htpasswd_line(user: str, password: str) -> bytes:
    """An nginx ``auth_basic_user_file`` line (SHA-512 crypt)."""
    hashed = _run(["openssl", "passwd", "-6", "-stdin"], password.encode()).strip()
    return user.encode() + b":" + hashed + b"\n"


def ensure_secrets(settings: Settings) -> list[Path]:
    """Generate the VNC and web passwords if missing. Returns the files it created."""
    paths = settings.paths
    paths.secrets_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(paths.secrets_dir, 0o700)  # root's alone; nginx's htpasswd (a hash) lives outside it
    created: list[Path] = []
    if not paths.vnc_password_file.exists():
        _write_private(paths.vnc_password_file, secrets.token_urlsafe(6)[:8].encode())
        paths.vnc_rfbauth_file.unlink(missing_ok=True)
        created.append(paths.vnc_password_file)
    if not paths.vnc_rfbauth_file.exists():
        _write_private(paths.vnc_rfbauth_file, vnc_rfbauth(read_secret(paths.vnc_password_file)))
        created.append(paths.vnc_rfbauth_file)
    if not paths.web_password_file.exists():
        _write_private(paths.web_password_file, secrets.token_urlsafe(18).encode())
        paths.htpasswd_file.unlink(missing_ok=True)
        created.append(paths.web_password_file)
    door = egress.door_password_file(settings)
    if not door.exists():
        _write_private(door, secrets.token_urlsafe(24).encode())
        egress.door_passwd_file(settings).unlink(missing_ok=True)
        created.append(door)
    if not egress.door_passwd_file(settings).exists():
        line = htpasswd_line(egress.DOOR_USER, read_secret(door))
        _write_private(egress.door_passwd_file(settings), line, group="proxy")
        created.append(egress.door_passwd_file(settings))
    if xauth.ensure_cookie(settings):
        created.append(xauth.cookie_file(settings))
    if tls.ensure_certificate(settings):
        created.extend(tls.cert_key(settings))
    user_line = settings.web.user.encode() + b":"
    if not paths.htpasswd_file.exists() or not paths.htpasswd_file.read_bytes().startswith(user_line):
        line = htpasswd_line(settings.web.user, read_secret(paths.web_password_file))
        _write_private(paths.htpasswd_file, line, group=settings.web.nginx_worker_user)
        created.append(paths.htpasswd_file)
    return created


def read_secret(path: Path) -> str:
    return path.read_text().strip()
