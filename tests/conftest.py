from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A scratch directory nginx's workers may enter (pytest's own tmp_path sits below a 0700 directory)."""
    path = Path(tempfile.mkdtemp(prefix="zigral-test-"))
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def client() -> Iterator[redis.Redis]:
    """The machine's Redis (each test keeps to its own namespace); skipped when absent, failed in CI."""
    c = redis.Redis.from_url(
        os.environ.get("ZIGRAL_REDIS__URL", "redis://127.0.0.1:6379/0"), decode_responses=True
    )
    try:
        c.ping()
    except redis.RedisError:
        if os.environ.get("CI"):
            pytest.fail("Redis is required in CI")
        pytest.skip("no Redis")
    yield c
    c.close()
