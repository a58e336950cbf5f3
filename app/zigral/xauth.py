"""The display's key: an MIT-MAGIC-COOKIE-1 that Xvfb demands of every client (``Xvfb -auth FILE``).

The cookie is generated once into the secrets folder (root, 0600). Each program that draws on or reads the
display gets its own Xauthority file, readable by that program's user alone: root's for Xvfb, the window
manager and x11vnc, the browser user's for Chromium. The agents take screenshots through CDP, not X.
Files are written here, never with ``xauth add`` (the cookie would show on its command line).
"""

from __future__ import annotations

import os
import secrets
import struct
from pathlib import Path

from zigral.config import Settings

COOKIE_NAME = b"MIT-MAGIC-COOKIE-1"
FAMILY_WILD = 0xFFFF  # any host: the entry is matched on the display number alone


def cookie_file(settings: Settings) -> Path:
    return settings.paths.secrets_dir / "x11.cookie"


def ensure_cookie(settings: Settings) -> bool:
    """Make the cookie if it is missing; True when it was made."""
    path = cookie_file(settings)
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_hex(16))
    return True


def read_cookie(settings: Settings) -> bytes:
    return bytes.fromhex(cookie_file(settings).read_text().strip())


def _field(data: bytes) -> bytes:
    return struct.pack(">H", len(data)) + data


def xauthority(display_number: int, cookie: bytes) -> bytes:
    """One Xauthority entry (the format ``xauth`` reads) for display ``display_number``."""
    return (
        struct.pack(">H", FAMILY_WILD)
        + _field(b"")
        + _field(str(display_number).encode())
        + _field(COOKIE_NAME)
        + _field(cookie)
    )


def write_xauthority(settings: Settings, path: Path, uid: int = 0, gid: int = 0) -> Path:
    """Write the display's Xauthority file at ``path``, mode 0600, owned by uid:gid."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(xauthority(settings.display.number, read_cookie(settings)))
    os.chown(tmp, uid, gid)
    os.replace(tmp, path)
    return path


def server_file(settings: Settings) -> Path:
    """root's Xauthority file: Xvfb's ``-auth``, and the window manager's and x11vnc's XAUTHORITY."""
    return settings.paths.run_dir / "x11" / f"root-{settings.display.number}.xauth"
