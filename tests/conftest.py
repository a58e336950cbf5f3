from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A scratch directory nginx's workers may enter (pytest's own tmp_path sits below a 0700 directory)."""
    path = Path(tempfile.mkdtemp(prefix="zigral-test-"))
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)
