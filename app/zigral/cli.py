"""The ``zigral`` command: one entry point, settings built once and passed down."""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from zigral import registry
from zigral.config import Settings, load_settings, masked
from zigral.errors import ZigralError

if TYPE_CHECKING:
    from zigral.messages import Command

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

    if args.id:
        return _cmd_task_status(args, settings)
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


def _parse_param(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise ZigralError(f"--param takes key=value, got {text!r}")
    try:
        return key, json.loads(value)  # numbers, booleans, lists and objects as JSON
    except json.JSONDecodeError:
        return key, value  # anything else is a string


_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")


def duration(text: str) -> float:
    """Seconds from ``90``, ``90s``, ``15m``, ``2h`` or ``2d`` (as an argparse type: bad is a usage error)."""
    match = _DURATION.match(text.lower())
    if not match or float(match.group(1)) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration (e.g. 90, 90s, 15m, 2h, 2d)")
    return float(match.group(1)) * _UNITS[match.group(2)]


def command_from(args: argparse.Namespace) -> Command:
    """The command ``zigral submit`` publishes, from its arguments."""
    from zigral.messages import Command

    params: dict[str, Any] = {}
    if args.json:
        loaded = json.loads(Path(args.json).read_text())
        if not isinstance(loaded, dict):
            raise ZigralError(f"{args.json}: params must be a JSON object")
        params.update(loaded)
    params.update(dict(_parse_param(p) for p in args.param))
    try:
        command = Command(
            agent=args.agent,
            action=args.action,
            params=params,
            priority=args.priority,
            timeout=args.timeout,
            max_age=args.max_age,
            capture=args.capture,
            **({"id": args.id} if args.id else {}),
            **({"account": args.account} if args.account else {}),
            **({"vm_id": args.vm} if args.vm else {}),
        )
    except ValidationError as exc:
        from zigral.messages import describe

        raise ZigralError(f"invalid command: {describe(exc)}") from None
    return command


def _cmd_submit(args: argparse.Namespace, settings: Settings) -> int:
    from zigral.client import Client

    command = command_from(args)
    with Client(settings) as client:
        client.submit(command, want_reply=args.wait)
        print(command.id, flush=True)  # a pipeline has the id while --wait waits
        if args.wait:
            result = client.wait(command.id, timeout=args.wait_timeout)
            print(result.model_dump_json(indent=2))
            return 0 if result.status == "succeeded" else 1
    return 0


def _store(settings: Settings) -> Any:
    from zigral.state import TaskStore

    store = TaskStore.from_settings(settings)
    store.ping()
    return store


def _cmd_task_status(args: argparse.Namespace, settings: Settings) -> int:
    store = _store(settings)
    record = store.get(args.id)
    if record is None:
        print(f"zigral: no task {args.id!r} (unknown, or older than the retention)", file=sys.stderr)
        return 1
    record["history"] = store.history(args.id)
    if record.get("status") == "needs_human":
        record["novnc"] = settings.web.public_url
    print(json.dumps(record, indent=2, default=str))
    return 0


def _cmd_tasks(args: argparse.Namespace, settings: Settings) -> int:
    rows = _store(settings).recent(limit=args.limit, agent=args.agent, status=args.status)
    for r in rows:
        stamp = time.strftime("%H:%M:%S", time.localtime(float(r.get("updated_at", 0))))
        error = f"  {r['error'][:80]}" if r.get("error") else ""
        what = f"{r['id']:<34} {r['agent']:<8} {r['action']:<14} {r['status']:<11}"
        print(f"{stamp}  {what} {r.get('vm_id', '')}{error}")
    return 0


def _cmd_watch(args: argparse.Namespace, settings: Settings) -> int:
    store = _store(settings)
    try:
        for event in store.follow("0-0" if args.replay else "$"):
            print(event.model_dump_json(), flush=True)
    except KeyboardInterrupt:
        pass
    return 0


def _cmd_dlq(args: argparse.Namespace, settings: Settings) -> int:
    from zigral import broker
    from zigral.constants import Names

    names = Names(settings.runtime.namespace)
    conn = broker.connect(settings)
    try:
        channel = conn.channel()
        broker.declare_topology(channel, names, settings.enabled_agents())
        if args.dlq_command == "list":
            for item in broker.dead_letters(channel, names, limit=args.limit):
                print(json.dumps(item))
            return 0
        store = _store(settings)
        replayed = broker.replay_dead_letter(
            channel, names, args.id, store.reset_for_replay, keep_created_at=args.keep_created_at
        )
        if not replayed:
            print(f"zigral: no dead letter with id {args.id!r}", file=sys.stderr)
            return 1
        print(f"replayed {args.id}")
        return 0
    finally:
        conn.close()


def _cmd_schema(args: argparse.Namespace, settings: Settings) -> int:
    from zigral import catalogue
    from zigral.messages import Command, Result

    if args.list:
        print("\n".join(catalogue.actions(settings)))
    elif args.write_docs is not None:
        changed = catalogue.rewrite(args.write_docs, settings)
        print(f"{args.write_docs}: {'rewritten' if changed else 'up to date'}")
    elif args.which in ("command", "result"):
        which = Command if args.which == "command" else Result
        print(json.dumps(which.model_json_schema(), indent=2))
    elif args.which == "catalogue":
        table = catalogue.actions(settings)
        print(json.dumps({n: catalogue.schema(n, a) for n, a in table.items()}, indent=2))
    else:
        print(json.dumps(catalogue.lookup(settings, args.which), indent=2))
    return 0


def _cmd_captures_prune(args: argparse.Namespace, settings: Settings) -> int:
    from zigral.captures import prune

    c = settings.captures
    report = prune(c.dir, c.max_age_days, c.max_bytes)
    print(f"removed {report.removed} files, freed {report.freed_bytes} bytes, {report.kept_bytes} bytes kept")
    return 0


def _cmd_fleet(args: argparse.Namespace, settings: Settings) -> int:
    from zigral import fleet

    view = fleet.view(settings, _store(settings))
    print(json.dumps(view.as_dict(), indent=2) if args.json else fleet.format_table(view))
    return 1 if view.errors else 0


def _cmd_health(args: argparse.Namespace, settings: Settings) -> int:
    beats = _store(settings).heartbeats(args.agent or "*")
    for beat in beats:
        print(json.dumps(beat))
    if not beats:
        print(f"zigral: no live {args.agent or 'agent'} heartbeat", file=sys.stderr)
        return 1
    return 0


def _cmd_ops(args: argparse.Namespace, settings: Settings) -> int:
    from zigral.logs import setup_json_logging
    from zigral.ops.service import OpsService

    setup_json_logging(stream=sys.stderr)  # stdout belongs to supervisor's event listener protocol
    return OpsService(settings).run()


def _cmd_recycle(args: argparse.Namespace, settings: Settings) -> int:
    import urllib.error
    import urllib.request

    url = f"http://127.0.0.1:{settings.metrics.ops_port}/recycle"
    req = urllib.request.Request(url, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=settings.ops.recycle_drain_timeout + 120) as resp:
            answer = json.load(resp)
    except urllib.error.HTTPError as exc:
        answer = json.load(exc)
    except OSError as exc:
        print(f"zigral: error: the ops listener at {url} does not answer: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(answer))
    if not answer.get("done"):
        print(f"zigral: recycle not done: {answer.get('detail')}", file=sys.stderr)
        return 1
    return 0


def _cmd_resume(args: argparse.Namespace, settings: Settings) -> int:
    from zigral.constants import Names
    from zigral.holds import release

    store = _store(settings)
    if not release(store.client, Names(settings.runtime.namespace), args.agent, settings.vm_id):
        print(f"zigral: {args.agent} on {settings.vm_id} is not waiting for a person", file=sys.stderr)
        return 1
    print(f"{args.agent} on {settings.vm_id} takes commands again; its next canary checks the session anew")
    return 0


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
    st = add("status", _cmd_status, "supervisorctl status (with a task ID: the same as `zigral task ID`)")
    st.add_argument("id", nargs="?")
    tk = add("task", _cmd_task_status, "a task's record and status history (JSON); exit 1 when unknown")
    tk.add_argument("id")
    add("doctor", _cmd_doctor, "check every part of the stack for real")
    ex = add("exec", _cmd_exec, "run one supervised program (used by supervisord)")
    ex.add_argument("part")
    add("ops", _cmd_ops, "the supervisor event listener: VM metrics, status page data (used by supervisord)")
    add("recycle", _cmd_recycle, "restart Chromium at a safe point: agents pause, finish, resume")
    rs = add("resume", _cmd_resume, "release an agent held for a person (e.g. to send it a login command)")
    rs.add_argument("agent", choices=registry.names())
    ag = add("agent", _cmd_agent, "run an agent (used by supervisord)")
    ag.add_argument("name", choices=registry.names())

    sb = add("submit", _cmd_submit, "publish a command; prints its task id (and with --wait its result)")
    sb.add_argument("agent")
    sb.add_argument("action")
    sb.add_argument(
        "--param", "-p", action="append", default=[], metavar="KEY=VALUE", help="JSON or a string"
    )
    sb.add_argument("--json", metavar="FILE", help="params from a JSON file")
    sb.add_argument("--priority", choices=["low", "normal", "high", "critical"], default="normal")
    sb.add_argument("--timeout", type=float, help="seconds for the work")
    sb.add_argument(
        "--max-age",
        type=duration,
        metavar="DURATION",
        help="expire the command if not started within this long (90, 15m, 2h, 2d; default:"
        " ZIGRAL_RUNTIME__DEFAULT_MAX_AGE); give a deferred, over-quota command time to wait",
    )
    sb.add_argument("--id", help="your own task id (the same id is executed at most once)")
    sb.add_argument("--capture", action="store_true", help="save a screenshot and HTML after the action")
    sb.add_argument("--account", help="run it only on a VM serving this account (waits for one)")
    sb.add_argument("--vm", help="run it only on this VM (its ZIGRAL_VM_ID)")
    sb.add_argument("--wait", action="store_true", help="wait for the result on a reply queue")
    sb.add_argument("--wait-timeout", type=float, default=300.0)

    tl = add("tasks", _cmd_tasks, "recent tasks")
    tl.add_argument("--agent")
    tl.add_argument("--status")
    tl.add_argument("--limit", type=int, default=20)
    wt = add("watch", _cmd_watch, "print status changes as they happen (JSON lines)")
    wt.add_argument("--replay", action="store_true", help="start from the oldest kept event")
    dq = add("dlq", _cmd_dlq, "dead letters")
    dsub = dq.add_subparsers(dest="dlq_command", required=True)
    dl = dsub.add_parser("list", help="list dead letters with their reasons")
    dl.add_argument("--limit", type=int, default=100)
    dr = dsub.add_parser("replay", help="send a dead letter back to its agent")
    dr.add_argument("id")
    dr.add_argument(
        "--keep-created-at",
        action="store_true",
        help="keep the created_at of the command (default: a fresh one, so an old letter runs, not expires)",
    )
    sc = add(
        "schema", _cmd_schema, "JSON Schema: the command envelope, a result, or an action's params and result"
    )
    sc.add_argument(
        "which",
        nargs="?",
        default="command",
        help="command | result | catalogue (every action) | an action (navigate, AGENT.ACTION)",
    )
    sc.add_argument("--list", action="store_true", help="the name of every action, one per line")
    sc.add_argument("--write-docs", type=Path, metavar="DOC", help="regenerate DOC's action reference")
    cp = add("captures", _cmd_captures_prune, "prune captures by age and total size")
    cp.add_argument("what", choices=["prune"])
    fl = add("fleet", _cmd_fleet, "every VM of the namespace: state, accounts, queued commands, live view")
    fl.add_argument("--json", action="store_true", help="the same as JSON (as the status page gets it)")
    hl = add("health", _cmd_health, "live agent heartbeats; exit 1 when there is none")
    hl.add_argument("agent", nargs="?")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        parser = build_parser()  # loads the installed agents (zigral.registry): a broken plugin stops here
    except ZigralError as exc:
        print(f"zigral: error: {exc}", file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("pika").setLevel(logging.WARNING)
    try:
        settings = load_settings(args.env_file)
        code = int(args.func(args, settings))
        sys.stdout.flush()  # here, where a closed pipe is still caught below
        return code
    except ZigralError as exc:
        print(f"zigral: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader went away (`zigral watch | head`): stop quietly, as a Unix tool killed by SIGPIPE would.
        # stdout points at /dev/null so the interpreter's final flush cannot fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + 13  # SIGPIPE


if __name__ == "__main__":
    sys.exit(main())
