"""The ``zigral`` command: one entry point, settings built once and passed down."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from zigral.config import Settings, load_settings, masked
from zigral.errors import ZigralError

log = logging.getLogger("zigral")


def _cmd_config(args: argparse.Namespace, settings: Settings) -> int:
    print(json.dumps(masked(settings), indent=2))
    return 0


def _cmd_render(args: argparse.Namespace, settings: Settings) -> int:
    from zigral.render import render
    from zigral.secrets import ensure_secrets

    ensure_secrets(settings)
    for path in render(settings):
        print(path)
    return 0


def _cmd_up(args: argparse.Namespace, settings: Settings) -> int:
    from zigral import stack

    print(stack.up(settings, timeout=args.timeout))
    return 0


def _cmd_down(args: argparse.Namespace, settings: Settings) -> int:
    from zigral import stack

    print(stack.down(settings))
    return 0


def _cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    from zigral import supervision

    done = supervision.ctl(settings, "status")
    print(done.stdout, end="")
    return done.returncode


def _cmd_doctor(args: argparse.Namespace, settings: Settings) -> int:
    from zigral import doctor

    results = doctor.run_checks(settings)
    print(doctor.format_table(results))
    return 0 if all(r.ok for r in results) else 1


def _cmd_exec(args: argparse.Namespace, settings: Settings) -> int:
    from zigral.launch import run_part

    run_part(args.part, settings)


def _cmd_agent(args: argparse.Namespace, settings: Settings) -> int:
    from zigral.agent_main import run_agent

    return run_agent(args.name, settings)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="zigral", description=__doc__)
    parser.add_argument("--env-file", type=Path, help="read settings from this file (default: ./.env)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    def add(
        name: str, func: Callable[[argparse.Namespace, Settings], int], help: str
    ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        p.set_defaults(func=func)
        return p

    add("config", _cmd_config, "print the effective settings, secrets masked")
    add("render", _cmd_render, "generate secrets and write supervisord.conf, nginx.conf and the env file")
    up = add("up", _cmd_up, "start the stack and wait until every part is ready")
    up.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for readiness")
    add("down", _cmd_down, "stop the stack")
    add("status", _cmd_status, "supervisorctl status")
    add("doctor", _cmd_doctor, "check every part of the stack for real")
    ex = add("exec", _cmd_exec, "run one supervised program (used by supervisord)")
    ex.add_argument("part")
    ag = add("agent", _cmd_agent, "run an agent (used by supervisord)")
    ag.add_argument("name")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("pika").setLevel(logging.WARNING)
    try:
        settings = load_settings(args.env_file)
        return int(args.func(args, settings))
    except ZigralError as exc:
        print(f"zigral: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
