from __future__ import annotations

import os
import time
from pathlib import Path

from zigral.captures import CaptureStore, prune, scrub_passwords


def test_password_values_are_scrubbed_and_other_fields_kept() -> None:
    html = (
        '<input type="password" name="pw" value="hunter2">'
        "<INPUT value='s3cret' TYPE=password>"
        '<input type="text" name="user" value="ada">'
    )
    out = scrub_passwords(html)
    assert "hunter2" not in out and "s3cret" not in out
    assert 'value="ada"' in out


def test_captures_are_named_by_agent_date_task_and_step(tmp_path: Path) -> None:
    store = CaptureStore(tmp_path, "lincoln")
    path = store.save("screenshot", "task-1", "after click!", b"\x89PNG")
    day = time.strftime("%Y-%m-%d", time.gmtime())
    assert store.relative(path) == f"screenshots/lincoln/{day}/task-1-after-click-.png"


def _file(path: Path, size: int, age_days: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    stamp = time.time() - age_days * 86400
    os.utime(path, (stamp, stamp))
    return path


def test_prune_removes_old_files_then_the_oldest_until_under_the_size_bound(tmp_path: Path) -> None:
    old = _file(tmp_path / "html/lincoln/d1/old.html", 100, age_days=30)
    a = _file(tmp_path / "screenshots/lincoln/d2/a.png", 400, age_days=3)
    b = _file(tmp_path / "screenshots/shaun/d2/b.png", 400, age_days=2)
    c = _file(tmp_path / "screenshots/shaun/d3/c.png", 400, age_days=1)
    report = prune(tmp_path, max_age_days=14, max_bytes=900)
    assert not old.exists() and not a.exists()
    assert b.exists() and c.exists()
    assert report.removed == 2 and report.kept_bytes == 800
    assert not (tmp_path / "html/lincoln/d1").exists()
