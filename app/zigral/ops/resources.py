"""What each supervised program costs (PSS and CPU of its whole process tree), and the disks the VM needs."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import psutil


@dataclass(frozen=True)
class TreeUsage:
    pss_bytes: int
    cpu_seconds: float
    processes: int
    renderers: int  # Chromium renderer processes among them


def children_table() -> dict[int, list[int]]:
    """``{parent pid: [child pids]}`` of every process, read in one pass over /proc."""
    table: dict[int, list[int]] = {}
    for proc in psutil.process_iter(["ppid"]):
        table.setdefault(proc.info["ppid"] or 0, []).append(proc.pid)
    return table


def descendants(pid: int, table: dict[int, list[int]]) -> list[int]:
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        todo.extend(table.get(current, ()))
    return out


def pss_bytes(pid: int) -> int:
    """PSS from /proc/PID/smaps_rollup (one summed record: far cheaper than walking smaps)."""
    with open(f"/proc/{pid}/smaps_rollup", "rb") as fh:
        for line in fh:
            if line.startswith(b"Pss:"):
                return int(line.split()[1]) * 1024
    return 0


def tree_usage(pid: int, table: dict[int, list[int]] | None = None) -> TreeUsage | None:
    """PSS and CPU of ``pid`` and all its descendants; None if ``pid`` is gone.

    PSS shares each shared page among the processes mapping it, so the sum over programs is the VM's real
    memory use (RSS would count Chromium's shared pages once per process). Pass one ``children_table()``
    when measuring several trees at once.
    """
    if not psutil.pid_exists(pid):
        return None
    pss = 0
    cpu = 0.0
    renderers = 0
    alive = 0
    for member in descendants(pid, table if table is not None else children_table()):
        try:
            proc = psutil.Process(member)
            with proc.oneshot():
                times = proc.cpu_times()
                if proc.name().startswith("chrom") and "--type=renderer" in proc.cmdline():
                    renderers += 1
            pss += pss_bytes(member)
        except (psutil.Error, OSError):
            continue  # exited while we looked
        cpu += times.user + times.system
        alive += 1
    return TreeUsage(pss, cpu, alive, renderers) if alive else None


def directory_bytes(path: Path) -> int:
    """Bytes of the regular files under ``path`` (0 if it does not exist)."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                continue
    return total


def filesystems(paths: dict[str, Path]) -> dict[str, tuple[int, int]]:
    """``{label: (size, free)}`` for each path that exists (``/dev/shm``, the state and captures disks)."""
    out: dict[str, tuple[int, int]] = {}
    for label, path in paths.items():
        try:
            usage = shutil.disk_usage(path)
        except OSError:
            continue
        out[label] = (usage.total, usage.free)
    return out
