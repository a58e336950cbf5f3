"""Screenshots and HTML snapshots under ``captures/``, and their retention by age and total size.

Layout: ``captures/{screenshots,html}/<agent>/<YYYY-MM-DD>/<task id>-<step>.{png,html}``.
"""

from __future__ import annotations

import logging
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

KINDS = {"screenshot": ("screenshots", "png"), "html": ("html", "html")}

_INPUT_TAG = re.compile(r"<input\b[^>]*>", re.IGNORECASE)
_PASSWORD_TYPE = re.compile(r"""\btype\s*=\s*(["']?)password\1""", re.IGNORECASE)
_VALUE_ATTR = re.compile(r"""\bvalue\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)""", re.IGNORECASE)
_STEP = re.compile(r"[^A-Za-z0-9_-]+")


def scrub_passwords(html: str) -> str:
    """Blank the value of every password field in saved HTML."""

    def scrub(match: re.Match[str]) -> str:
        tag = match.group(0)
        if not _PASSWORD_TYPE.search(tag):
            return tag
        return _VALUE_ATTR.sub('value=""', tag)

    return _INPUT_TAG.sub(scrub, html)


@dataclass(frozen=True)
class CaptureStore:
    """Where one agent's captures go."""

    root: Path
    agent: str

    def path_for(self, kind: str, task_id: str, step: str) -> Path:
        folder, ext = KINDS[kind]
        day = time.strftime("%Y-%m-%d", time.gmtime())
        safe_step = _STEP.sub("-", step)[:60] or "step"
        path = self.root / folder / self.agent / day / f"{task_id}-{safe_step}.{ext}"
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def save(self, kind: str, task_id: str, step: str, data: bytes) -> Path:
        path = self.path_for(kind, task_id, step)
        tmp = path.with_suffix(path.suffix + ".part")
        tmp.write_bytes(data)
        os.chmod(tmp, 0o644)  # nginx serves captures read-only
        os.replace(tmp, path)
        return path

    def relative(self, path: Path) -> str:
        return str(path.relative_to(self.root))


@dataclass(frozen=True)
class PruneReport:
    removed: int
    freed_bytes: int
    kept_bytes: int


def prune(root: Path, max_age_days: float, max_bytes: int, now: float | None = None) -> PruneReport:
    """Delete captures older than ``max_age_days``, then the oldest until the total is under ``max_bytes``."""
    now = now or time.time()
    files: list[tuple[float, int, Path]] = []
    for folder, _ext in KINDS.values():
        base = root / folder
        if not base.exists():
            continue
        for path in base.rglob("*"):
            if path.is_file() and path.name != ".gitkeep":
                st = path.stat()
                files.append((st.st_mtime, st.st_size, path))
    files.sort()
    total = sum(size for _, size, _ in files)
    removed = freed = 0
    cutoff = now - max_age_days * 86400
    for mtime, size, path in files:
        if mtime >= cutoff and total <= max_bytes:
            break
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        removed += 1
        freed += size
        total -= size
    for folder, _ext in KINDS.values():  # drop emptied day folders
        for directory in sorted((root / folder).glob("*/*"), reverse=True):
            if directory.is_dir() and not any(directory.iterdir()):
                directory.rmdir()
    if removed:
        log.info("pruned %d captures, freed %d bytes, %d bytes kept", removed, freed, total)
    return PruneReport(removed, freed, total)
