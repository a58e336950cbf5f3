"""Can another user reach a path? nginx's workers run unprivileged and must reach everything they serve.

A checkout in a mode-0700 directory (``/root/...``, ``mktemp -d``) is readable by root alone: nginx would
answer 404 for every page under it. The stack refuses to start in that case and says which directory
stops which user, instead of serving 404s.
"""

from __future__ import annotations

import grp
import os
import pwd
import stat
from pathlib import Path

from zigral.errors import ConfigError


def _identity(user: str) -> tuple[int, set[int]]:
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise ConfigError(f"user {user!r} does not exist on this machine") from None
    groups = {entry.pw_gid} | {g.gr_gid for g in grp.getgrall() if user in g.gr_mem}
    return entry.pw_uid, groups


def _allows(st: os.stat_result, uid: int, groups: set[int], want: int) -> bool:
    """``want`` is a mask of ``os.R_OK``/``os.X_OK``, checked against the owner, group or other bits."""
    if st.st_uid == uid:
        shift = 6
    elif st.st_gid in groups:
        shift = 3
    else:
        shift = 0
    return (st.st_mode >> shift) & want == want


def blocker(path: Path, user: str) -> str | None:
    """Why ``user`` cannot read ``path`` (list it, if a directory), or ``None`` if it can."""
    uid, groups = _identity(user)
    if uid == 0:
        return None
    path = path.resolve()
    for directory in reversed(path.parents):
        st = directory.stat()
        if not _allows(st, uid, groups, os.X_OK):
            return f"{user} cannot enter {directory} (mode {stat.filemode(st.st_mode)})"
    try:
        st = path.stat()
    except FileNotFoundError:
        return f"{path} does not exist"
    want = os.R_OK | os.X_OK if stat.S_ISDIR(st.st_mode) else os.R_OK
    if not _allows(st, uid, groups, want):
        return f"{user} cannot read {path} (mode {stat.filemode(st.st_mode)})"
    return None


def require_reachable(paths: dict[str, Path], user: str) -> None:
    """Raise ``ConfigError`` naming every path in ``{what: path}`` that ``user`` cannot read."""
    problems = [f"{what} at {path}: {why}" for what, path in paths.items() if (why := blocker(path, user))]
    if problems:
        raise ConfigError(
            f"nginx's worker user {user} could not serve "
            + "; ".join(problems)
            + ". Move the directory somewhere it can reach (for captures: ZIGRAL_CAPTURES__DIR), "
            "or let it through the parent directories (chmod o+x on each)."
        )
