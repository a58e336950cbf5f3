"""State in Redis: task records with their history, the events stream, locks and heartbeats.

Every write of a status change goes through one MULTI/EXEC pipeline, so a record, its history, the
recent-tasks index and the events stream never disagree. redis-py's errors become :class:`StateError`
(:class:`StateUnavailable` when Redis cannot be reached, which is worth waiting out).
"""

from __future__ import annotations

import fnmatch
import functools
import json
import time
from collections.abc import Callable, Iterator
from typing import Any, ParamSpec, TypeVar, cast

import redis
from redis.sentinel import Sentinel

from zigral.config import Settings, parse_sentinel
from zigral.constants import QUEUED, REJECTED, SUCCEEDED, TERMINAL, Names
from zigral.errors import StateError, StateUnavailable
from zigral.messages import Command, Result

P = ParamSpec("P")
T = TypeVar("T")


def translated(func: Callable[P, T]) -> Callable[P, T]:
    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return func(*args, **kwargs)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise StateUnavailable(f"Redis: {type(exc).__name__}: {exc}") from None
        except redis.RedisError as exc:
            raise StateError(f"Redis: {type(exc).__name__}: {exc}") from None

    return wrapper


# KEYS: the record. ARGV: retention, queued, id, agent, action. A record an invalid message left starts over.
_GIVE_BACK_ATTEMPT = """
if tonumber(redis.call('hget', KEYS[1], 'attempts') or '0') > 0 then
  redis.call('hincrby', KEYS[1], 'attempts', -1)
end
"""
_BEGIN_ATTEMPT = """
if redis.call('hget', KEYS[1], 'invalid') then
  redis.call('hdel', KEYS[1], 'invalid', 'error', 'result', 'finished_at', 'attempts')
  redis.call('hset', KEYS[1], 'status', ARGV[2], 'action', ARGV[5])
end
local n = redis.call('hincrby', KEYS[1], 'attempts', 1)
redis.call('hsetnx', KEYS[1], 'status', ARGV[2])
redis.call('hsetnx', KEYS[1], 'id', ARGV[3])
redis.call('hsetnx', KEYS[1], 'agent', ARGV[4])
redis.call('hsetnx', KEYS[1], 'action', ARGV[5])
redis.call('expire', KEYS[1], ARGV[1])
return n
"""
# KEYS: record, history, recent index, events stream, run lock. ARGV: retention, now, id, history entry,
# event, stream maxlen, invalid (1: an invalid message's record), lock owner to release ('' none), fields...
_COMMIT = """
redis.call('hset', KEYS[1], unpack(ARGV, 9, #ARGV))
if ARGV[7] == '0' then redis.call('hdel', KEYS[1], 'invalid') end
redis.call('expire', KEYS[1], ARGV[1])
redis.call('rpush', KEYS[2], ARGV[4])
redis.call('expire', KEYS[2], ARGV[1])
redis.call('zadd', KEYS[3], ARGV[2], ARGV[3])
redis.call('zremrangebyscore', KEYS[3], '-inf', tonumber(ARGV[2]) - tonumber(ARGV[1]))
redis.call('xadd', KEYS[4], 'MAXLEN', '~', ARGV[6], '*', 'event', ARGV[5])
if ARGV[8] ~= '' and redis.call('get', KEYS[5]) == ARGV[8] then redis.call('del', KEYS[5]) end
return 1
"""
# KEYS: a run lock. ARGV: its owner. Delete only our own lock: compare and delete atomically.
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
# KEYS: a key. ARGV: a value, a TTL (0: none). Set it if absent; the value it holds.
_AUTO_ID = """
if redis.call('set', KEYS[1], ARGV[1], 'NX') and tonumber(ARGV[2]) > 0 then
  redis.call('expire', KEYS[1], ARGV[2])
end
return redis.call('get', KEYS[1])
"""


def connect(settings: Settings) -> redis.Redis:
    """A client of ``redis.url``; for a ``redis+sentinel://`` URL, of the master its Sentinels name now
    (redis-py asks them again after a failover)."""
    options: dict[str, Any] = {
        "decode_responses": True,
        "socket_connect_timeout": 3,
        "socket_timeout": 10,
        "health_check_interval": 15,
    }
    sentinel = parse_sentinel(settings.redis.url)
    if sentinel is None:
        return redis.Redis.from_url(settings.redis.url, **options)
    sentinels = Sentinel(sentinel.hosts, socket_connect_timeout=3, socket_timeout=3)  # type: ignore[no-untyped-call]
    auth = {"username": sentinel.username, "password": sentinel.password}
    master = sentinels.master_for(sentinel.master, db=sentinel.db, **auth, **options)  # type: ignore[no-untyped-call]
    return cast(redis.Redis, master)


class TaskStore:
    """Task records, history, events, locks and heartbeats of one namespace."""

    def __init__(self, client: redis.Redis, names: Names, retention: int, events_maxlen: int) -> None:
        self.client = client
        self.names = names
        self.retention = retention
        self.events_maxlen = events_maxlen
        self._commit_script: Any = None  # _COMMIT, registered on first use (EVALSHA afterwards)

    @classmethod
    def from_settings(cls, settings: Settings, client: redis.Redis | None = None) -> TaskStore:
        return cls(
            client or connect(settings),
            Names(settings.runtime.namespace),
            settings.runtime.task_retention,
            settings.runtime.events_maxlen,
        )

    # ------------------------------------------------------------------ tasks
    @translated
    def ping(self) -> None:
        self.client.ping()

    @translated
    def get(self, task_id: str) -> dict[str, Any] | None:
        raw = cast(dict[str, str], self.client.hgetall(self.names.task_key(task_id)))
        if not raw:
            return None
        record: dict[str, Any] = {k: v for k, v in raw.items() if not k.startswith("memo:")}
        record["memo"] = {k[5:]: json.loads(v) for k, v in raw.items() if k.startswith("memo:")}
        for key in ("result", "captures", "params"):
            if key in record:
                record[key] = json.loads(record[key])
        for key in ("attempts",):
            if key in record:
                record[key] = int(record[key])
        for key in ("created_at", "queued_at", "started_at", "finished_at", "updated_at", "not_before"):
            if key in record:
                record[key] = float(record[key])
        return record

    @translated
    def remember(self, task_id: str, key: str, value: Any) -> None:
        """Keep a fact about the work in progress (where an append started...) for a later attempt."""
        self.client.hset(self.names.task_key(task_id), f"memo:{key}", json.dumps(value))

    @translated
    def reset_for_replay(self, task_id: str) -> None:
        """Make a finished task runnable again (``zigral dlq replay``): status queued, attempts 0."""
        key = self.names.task_key(task_id)
        self.client.hset(key, mapping={"status": QUEUED, "attempts": 0, "updated_at": time.time()})
        self.client.hdel(key, "error", "result", "finished_at")

    @translated
    def history(self, task_id: str) -> list[dict[str, Any]]:
        items = cast(list[str], self.client.lrange(self.names.history_key(task_id), 0, -1))
        return [json.loads(item) for item in items]

    def is_terminal(self, record: dict[str, Any] | None) -> bool:
        """A finished task: its id is used up. An invalid message's rejection does not use up its id."""
        return record is not None and record.get("status") in TERMINAL and not record.get("invalid")

    @translated
    def begin_attempt(self, command: Command) -> int:
        """Count one more delivery of the task (counted here, outside the message).

        The first count creates the record, so it carries who and what it is and a ``queued`` status
        from the start: a reader never sees a record without a status. A record left by an invalid
        message with the same id starts over.
        """
        key = self.names.task_key(command.id)
        args: list[str | int] = [self.retention, QUEUED, command.id, command.agent, command.action]
        return int(self.client.eval(_BEGIN_ATTEMPT, 1, key, *args))

    @translated
    def give_back_attempt(self, task_id: str) -> None:
        """Uncount the attempt just counted: the action did not run out its chance, it waited (over quota)."""
        self.client.eval(_GIVE_BACK_ATTEMPT, 1, self.names.task_key(task_id))

    @translated
    def record_invalid(self, task_id: str, agent: str, reason: str, vm_id: str) -> tuple[Result, bool]:
        """Record that a message with this id was invalid and rejected, without using the id up.

        A real command's record with the same id is left as it is. Returns the event and whether it
        was stored.
        """
        now = time.time()
        event = Result(id=task_id, agent=agent, action="invalid", status=REJECTED, error=reason, at=now)
        event = event.model_copy(update={"vm_id": vm_id})
        status, invalid = cast(
            list[str | None], self.client.hmget(self.names.task_key(task_id), "status", "invalid")
        )
        if status is not None and not invalid:
            return event, False
        fields: dict[str, Any] = {
            "id": task_id,
            "agent": agent,
            "action": "invalid",
            "status": REJECTED,
            "invalid": 1,
            "error": reason,
            "vm_id": vm_id,
            "updated_at": now,
            "finished_at": now,
        }
        self._commit(task_id, fields, event)
        return event, True

    # ------------------------------------------------------------------ crashes and generated ids
    @translated
    def count_crash(self, fingerprint: str, ttl: int) -> int:
        """One more redelivery of a body whose handling never finished; the count so far."""
        key = self.names.crash_key(fingerprint)
        pipe = self.client.pipeline(transaction=True)
        pipe.incr(key)
        pipe.expire(key, ttl)
        return int(pipe.execute()[0])

    @translated
    def auto_id(self, fingerprint: str, fresh: str, ttl: int) -> str:
        """The id of a body sent without one: ``fresh`` the first time, the same one on a redelivery."""
        key = self.names.autoid_key(fingerprint)
        return cast(str, self.client.eval(_AUTO_ID, 1, key, fresh, ttl))

    @translated
    def forget_delivery(self, fingerprint: str) -> None:
        """The body was settled: its crash count and generated id are no longer needed."""
        self.client.delete(self.names.crash_key(fingerprint), self.names.autoid_key(fingerprint))

    @translated
    def check_epoch(self, known: str | None, fresh: str) -> tuple[str, bool]:
        """The data epoch of this Redis, set to ``fresh`` if it has none, and whether it differs from
        ``known`` (the epoch seen before): then Redis lost its data (a flush, a restart without
        persistence), and with it results, attempt counts and quotas."""
        epoch = cast(str, self.client.eval(_AUTO_ID, 1, self.names.epoch_key, fresh, 0))
        wiped = known is not None and epoch != known
        if wiped:  # for the status page: the first worker to notice writes it, the others leave it
            seen = json.dumps({"at": time.time(), "lost_epoch": known, "epoch": epoch})
            self.client.set(self.names.epoch_lost_key, seen, nx=True)
        return epoch, wiped

    @translated
    def redis_wiped(self) -> dict[str, Any] | None:
        """When an agent found Redis without its data (``check_epoch``), or None if none ever did."""
        raw = cast(str | None, self.client.get(self.names.epoch_lost_key))
        return cast(dict[str, Any], json.loads(raw)) if raw else None

    @translated
    def transition(
        self,
        command: Command,
        status: str,
        vm_id: str,
        *,
        result: Any = None,
        error: str | None = None,
        captures: list[str] | None = None,
        attempt: int | None = None,
        release: str | None = None,
        **extra: float | str,
    ) -> Result:
        """Record a status change: the record, its history, the index and the events stream at once.

        ``attempt``: the attempt count when the caller knows it (saves reading it); ``release``: the owner
        whose run lock is released in the same round trip.
        """
        now = time.time()
        key = self.names.task_key(command.id)
        fields: dict[str, Any] = {
            "id": command.id,
            "agent": command.agent,
            "action": command.action,
            "priority": command.priority,
            "created_at": command.created_at,
            "params": json.dumps(command.params),
            "status": status,
            "vm_id": vm_id,
            "updated_at": now,
            **extra,
        }
        if status == "running":
            fields["started_at"] = now
        if status in TERMINAL:
            fields["finished_at"] = now
        if result is not None:
            fields["result"] = json.dumps(result)
        if error is not None:
            fields["error"] = error
        if captures:
            fields["captures"] = json.dumps(captures)
        if attempt is None:
            attempt = int(cast(str, self.client.hget(key, "attempts")) or 0)
        event = Result(
            id=command.id,
            agent=command.agent,
            action=command.action,
            status=status,
            attempt=attempt,
            vm_id=vm_id,
            result=result,
            error=error,
            captures=captures or [],
            at=now,
        )
        self._commit(command.id, fields, event, release)
        return event

    def _commit(
        self, task_id: str, fields: dict[str, Any], event: Result, release: str | None = None
    ) -> None:
        """The record, its history, the recent index and the events stream (and the run lock of
        ``release``, if it still holds it), atomically in one script call."""
        names = self.names
        history = json.dumps(
            {"status": event.status, "at": event.at, "vm_id": event.vm_id, "error": event.error}
        )
        keys = [
            names.task_key(task_id),
            names.history_key(task_id),
            names.recent_key,
            names.events_stream,
            names.lock_key(task_id),
        ]
        pairs = [str(x) for k, v in fields.items() for x in (k, v)]
        args = [self.retention, repr(event.at), task_id, history, event.encode(), self.events_maxlen]
        args += ["1" if "invalid" in fields else "0", release or "", *pairs]
        if self._commit_script is None:
            self._commit_script = self.client.register_script(_COMMIT)
        self._commit_script(keys=keys, args=args)

    @translated
    def stored_result(self, task_id: str) -> Result | None:
        """The final result of a finished task, to re-publish on redelivery."""
        record = self.get(task_id)
        if not self.is_terminal(record):
            return None
        assert record is not None
        return Result(
            id=record["id"],
            agent=record["agent"],
            action=record["action"],
            status=record["status"],
            attempt=record.get("attempts", 0),
            vm_id=record.get("vm_id", ""),
            result=record.get("result"),
            # A retry's note stays in the record (the last note), but a success sent again says what the
            # succeeded event said: no error.
            error=None if record["status"] == SUCCEEDED else record.get("error"),
            captures=record.get("captures", []),
            at=record.get("finished_at", time.time()),
        )

    @translated
    def recent(
        self, limit: int = 20, agent: str | None = None, status: str | None = None
    ) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        ids = cast(list[str], self.client.zrevrange(self.names.recent_key, 0, max(limit * 10, 200)))
        for task_id in ids:
            record = self.get(task_id)
            if record is None:
                continue
            if agent and record.get("agent") != agent:
                continue
            if status and record.get("status") != status:
                continue
            out.append(record)
            if len(out) >= limit:
                break
        return out

    # ------------------------------------------------------------------ locks
    @translated
    def acquire(self, task_id: str, owner: str, ttl: float) -> str | None:
        """Take the task's run lock; None on success, else the current owner."""
        key = self.names.lock_key(task_id)
        if self.client.set(key, owner, nx=True, px=max(1, int(ttl * 1000))):
            return None
        return cast(str | None, self.client.get(key)) or "(expired)"

    @translated
    def take_over(self, task_id: str, owner: str, ttl: float) -> None:
        """Take the run lock from a worker that is gone (its heartbeat expired)."""
        self.client.set(self.names.lock_key(task_id), owner, px=max(1, int(ttl * 1000)))

    @translated
    def is_alive(self, heartbeat_key: str) -> bool:
        return bool(self.client.exists(heartbeat_key))

    @translated
    def release(self, task_id: str, owner: str) -> None:
        self.client.eval(_RELEASE, 1, self.names.lock_key(task_id), owner)

    # ------------------------------------------------------------------ heartbeats
    @translated
    def heartbeat(self, agent: str, vm_id: str, pid: int, ttl: float, **info: str) -> None:
        key = self.names.heartbeat_key(agent, vm_id, pid)
        now = time.time()
        beat = {"agent": agent, "vm_id": vm_id, "pid": pid, "at": now, **info}
        pipe = self.client.pipeline(transaction=False)
        pipe.set(key, json.dumps(beat), px=int(ttl * 1000))
        pipe.zadd(self.names.heartbeats_index, {key: now + ttl})
        pipe.zremrangebyscore(self.names.heartbeats_index, "-inf", now - 3600)  # long-gone workers
        # The fleet's register keeps the last beat of every VM's agent after it expires (fleet.py).
        pipe.hset(self.names.fleet_key, f"{vm_id}/{agent}", json.dumps({**beat, "key": key, "ttl": ttl}))
        pipe.execute()

    @translated
    def clear_heartbeat(self, agent: str, vm_id: str, pid: int) -> None:
        key = self.names.heartbeat_key(agent, vm_id, pid)
        pipe = self.client.pipeline(transaction=False)
        pipe.delete(key)
        pipe.zrem(self.names.heartbeats_index, key)
        pipe.execute()

    @translated
    def live_heartbeat_keys(self, agent: str = "*", vm_id: str = "*") -> list[str]:
        """Keys of the heartbeats that have not expired, optionally of one agent and one VM."""
        keys = cast(list[str], self.client.zrangebyscore(self.names.heartbeats_index, time.time(), "+inf"))
        wanted = self.names.heartbeat_pattern(agent, vm_id)
        return [k for k in keys if fnmatch.fnmatchcase(k, wanted)]

    @translated
    def heartbeats(self, agent: str = "*") -> list[dict[str, Any]]:
        keys = self.live_heartbeat_keys(agent)
        values = cast(list[str | None], self.client.mget(keys)) if keys else []
        return [json.loads(v) for v in values if v]

    # ------------------------------------------------------------------ events
    @translated
    def events(
        self, since: str = "0-0", block_ms: int | None = None, count: int = 100
    ) -> list[tuple[str, Result]]:
        """Status changes after stream id ``since`` (``"$"`` for only new ones)."""
        answer = self.client.xread({self.names.events_stream: since}, count=count, block=block_ms)
        out: list[tuple[str, Result]] = []
        for _stream, entries in cast(list[tuple[str, list[tuple[str, dict[str, str]]]]], answer or []):
            for entry_id, data in entries:
                out.append((entry_id, Result.decode(data["event"].encode())))
        return out

    def follow(self, since: str = "$") -> Iterator[Result]:
        """Yield status changes as they happen (after ``since``; ``"$"``: from now on)."""
        last = since
        if last == "$":
            newest = cast(list[tuple[str, Any]], self.client.xrevrange(self.names.events_stream, count=1))
            last = newest[0][0] if newest else "0-0"
        while True:
            for entry_id, event in self.events(last, block_ms=1000):
                last = entry_id
                yield event
