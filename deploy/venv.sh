#!/usr/bin/env bash
# The project's venv in .venv, from the lock files in requirements/ (every package pinned, with hashes).
# Needs no root: `make lint` and `make test-unit` use it alone; deploy/install.sh calls it for the stack.
#
#   bash deploy/venv.sh runtime   # what the stack runs: the production venv, no test, lint or bench tools
#   bash deploy/venv.sh dev       # runtime + test + lint (make lint, make test-unit, make test)
#   bash deploy/venv.sh bench     # dev + the benchmark's peer (make bench)
#
# A set is installed again only when its lock file or pyproject.toml changed. Regenerate the locks after
# editing pyproject.toml's dependencies with `make lock`.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
SET="${1:-runtime}"
LOCK="requirements/$SET.txt"

say() { printf 'venv: %s\n' "$*"; }

[ -f "$LOCK" ] || { echo "venv: no lock file $LOCK (sets: runtime, dev, bench)" >&2; exit 2; }

if [ ! -x .venv/bin/python ]; then
    if ! "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
        say "installing Debian's python3-venv"   # a bare Debian's python3 cannot make a venv without it
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3-venv \
            || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3-venv; }
    fi
    if ! "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null; then
        echo "venv: $PYTHON cannot create a venv: install Debian's python3-venv (apt-get install python3-venv," \
             "or run 'make install' as root)" >&2
        exit 1
    fi
    say "creating the venv in .venv"
    "$PYTHON" -m venv .venv
fi

# The test sets also install the example agent plugin (tests/plugins/example, off unless enabled): the
# suite proves with it that a third agent needs no change to Zigral.
PLUGIN="tests/plugins/example"
stamp=".venv/.zigral-$SET"
want="$(cat "$LOCK" pyproject.toml "$PLUGIN/pyproject.toml" | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    say "installing $LOCK"
    .venv/bin/pip install -q --upgrade pip
    .venv/bin/pip install -q --require-hashes --no-deps -r "$LOCK"
    .venv/bin/pip install -q --no-deps -e .   # the project itself, its dependencies all from the lock
    if [ "$SET" != runtime ]; then
        .venv/bin/pip install -q --no-deps -e "$PLUGIN"
    fi
    echo "$want" > "$stamp"
fi
