from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from zigral import cli

ZIGRAL = str(Path(sys.executable).with_name("zigral"))


def into_a_closed_pipe(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``zigral ARGS`` writing into a pipe whose reader is gone (``zigral ... | head`` once head has left)."""
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run([ZIGRAL, *args], stdout=write, stderr=subprocess.PIPE, text=True, cwd=cwd)
    finally:
        os.close(write)


def test_a_reader_that_goes_away_ends_the_command_quietly_as_sigpipe_would(tmp_path: Path) -> None:
    done = into_a_closed_pipe(tmp_path, "schema")
    assert done.returncode == 141
    assert done.stderr == ""


@pytest.mark.parametrize(
    ("text", "seconds"), [("90", 90), ("90s", 90), ("15m", 900), ("2h", 7200), ("2d", 172800)]
)
def test_submit_takes_max_age_as_a_duration(text: str, seconds: float) -> None:
    args = cli.build_parser().parse_args(["submit", "lincoln", "send_connection", "--max-age", text])
    assert cli.command_from(args).max_age == seconds


def test_submit_without_max_age_leaves_it_to_the_settings() -> None:
    args = cli.build_parser().parse_args(["submit", "lincoln", "navigate"])
    assert cli.command_from(args).max_age is None


@pytest.mark.parametrize("text", ["soon", "0", "-5m", "3w"])
def test_a_bad_max_age_is_a_usage_error_naming_the_option(
    text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.build_parser().parse_args(["submit", "lincoln", "navigate", f"--max-age={text}"])
    assert exited.value.code == 2
    assert f"argument --max-age: {text!r} is not a duration" in capsys.readouterr().err


def test_task_is_a_verb_of_its_own_and_status_with_an_id_still_shows_a_task() -> None:
    parser = cli.build_parser()
    task = parser.parse_args(["task", "t-1"])
    assert task.func is cli._cmd_task_status and task.id == "t-1"
    old = parser.parse_args(["status", "t-1"])
    assert old.func is cli._cmd_status and old.id == "t-1"
    assert parser.parse_args(["status"]).id is None
