from __future__ import annotations

import os
from pathlib import Path

import pytest

from zigral.access import blocker, require_reachable
from zigral.errors import ConfigError


def test_a_world_readable_file_below_open_directories_is_reachable(open_dir: Path) -> None:
    page = open_dir / "page.html"
    page.write_text("hi")
    os.chmod(page, 0o644)
    assert blocker(page, "www-data") is None


def test_a_private_parent_blocks_and_is_named(open_dir: Path) -> None:
    inner = open_dir / "home" / "site"
    inner.mkdir(parents=True)
    os.chmod(open_dir / "home", 0o700)
    assert blocker(inner, "www-data") == f"www-data cannot enter {open_dir / 'home'} (mode drwx------)"


def test_a_directory_must_be_listable_and_a_file_readable(open_dir: Path) -> None:
    shut = open_dir / "shut"
    shut.mkdir(mode=0o711)
    os.chmod(shut, 0o711)
    assert blocker(shut, "www-data") == f"www-data cannot read {shut} (mode drwx--x--x)"
    secret = open_dir / "secret"
    secret.write_text("x")
    os.chmod(secret, 0o600)
    assert blocker(secret, "www-data") == f"www-data cannot read {secret} (mode -rw-------)"


def test_the_group_bits_apply_to_a_member_of_the_owning_group(open_dir: Path) -> None:
    shared = open_dir / "group-only"
    shared.mkdir()
    os.chown(shared, 0, 33)  # www-data's group on Debian
    os.chmod(shared, 0o750)
    assert blocker(shared, "www-data") is None
    assert blocker(shared, "nobody") is not None


def test_root_reaches_everything_and_an_unknown_user_is_a_config_error(open_dir: Path) -> None:
    os.chmod(open_dir, 0o700)
    assert blocker(open_dir, "root") is None
    with pytest.raises(ConfigError, match="user 'no-such-user' does not exist"):
        blocker(open_dir, "no-such-user")


def test_every_unreachable_path_is_named_in_one_error(open_dir: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        require_reachable({"the pages": open_dir / "a", "the captures": open_dir / "b"}, "www-data")
    assert f"the pages at {open_dir / 'a'}" in str(caught.value)
    assert f"the captures at {open_dir / 'b'}" in str(caught.value)
