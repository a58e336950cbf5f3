"""The install's hygiene: the Makefile's root-free targets and the lock files in requirements/."""

from __future__ import annotations

import re
import subprocess
import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from zigral.config import REPO_ROOT

LOCKS = {"runtime": [], "dev": ["test", "lint"], "bench": ["test", "lint", "bench"]}
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")


def pins(lock: str) -> dict[str, str]:
    """name -> version of every package in requirements/<lock>.txt; each must carry a sha256 hash."""
    text = (REPO_ROOT / "requirements" / f"{lock}.txt").read_text()
    out: dict[str, str] = {}
    for entry in re.split(r"\n(?=\S)", text):
        if not (match := _PIN.match(entry)):
            continue
        assert "--hash=sha256:" in entry, f"{match.group(1)} in {lock}.txt has no hash"
        out[canonicalize_name(match.group(1))] = match.group(2)
    return out


def wanted(extras: list[str]) -> list[Requirement]:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    specs = list(project["dependencies"])
    for extra in extras:
        specs += project["optional-dependencies"][extra]
    return [Requirement(s) for s in specs]


@pytest.mark.parametrize("lock", sorted(LOCKS))
def test_every_lock_pins_each_dependency_of_pyproject_at_a_version_it_allows(lock: str) -> None:
    pinned = pins(lock)
    for req in wanted(LOCKS[lock]):
        name = canonicalize_name(req.name)
        assert name in pinned, f"{req.name} is not in requirements/{lock}.txt: run `make lock`"
        assert req.specifier.contains(pinned[name], prereleases=True), (
            f"requirements/{lock}.txt pins {req.name}=={pinned[name]}, pyproject wants {req.specifier}:"
            " run `make lock`"
        )


def test_the_production_lock_holds_no_test_lint_or_bench_tool() -> None:
    runtime = pins("runtime")
    tools = {canonicalize_name(r.name) for r in wanted(["test", "lint", "bench"])}
    tools -= {canonicalize_name(r.name) for r in wanted([])}
    assert tools and not tools & set(runtime), sorted(tools & set(runtime))


def dry_run(*targets: str) -> str:
    done = subprocess.run(["make", "-n", *targets], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    return done.stdout


def test_make_lint_and_test_unit_build_only_the_venv_and_never_the_root_install() -> None:
    for target in ("lint", "test-unit"):
        commands = dry_run(target)
        assert "install.sh" not in commands, commands
        assert "deploy/venv.sh dev" in commands, commands


def test_make_up_installs_the_production_set_and_make_test_adds_the_test_tools() -> None:
    install = (REPO_ROOT / "deploy" / "install.sh").read_text()
    assert 'venv.sh" runtime' in install and "[test" not in install
    assert "deploy/install.sh" in dry_run("up")
    test = dry_run("test")
    # bench = dev + the benchmark's peer, which the suite's bench smoke run needs
    assert test.index("deploy/install.sh") < test.index("deploy/venv.sh bench") < test.index("pytest")
