"""Per-account quotas in Redis, per calendar day and ISO week (UTC), checked and taken atomically.

Two VMs on the same account share the counters. An action takes a use right before its side effect
(``ActionContext.take_quota``), so a command that finds nothing to do takes none; a task takes a quota at
most once per week window (a redelivery after a crash finds its id in the window's set of takers and is not
counted again). The older path, a use taken by the worker before the action and given back when the action
reports ``"sent": false``, stays for actions that declare ``quota=``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import redis

from zigral.config import QuotaLimit
from zigral.constants import Names
from zigral.errors import OverQuota, Retryable, StateError
from zigral.state import translated

# KEYS: day counter, week counter. ARGV: day limit, week limit (-1: none), day ttl, week ttl.
# Returns 0 when a use was taken, 1 when the day is full, 2 when the week is full.
_TAKE = """
local day = tonumber(redis.call('get', KEYS[1]) or '0')
local week = tonumber(redis.call('get', KEYS[2]) or '0')
if tonumber(ARGV[1]) >= 0 and day >= tonumber(ARGV[1]) then return 1 end
if tonumber(ARGV[2]) >= 0 and week >= tonumber(ARGV[2]) then return 2 end
redis.call('incr', KEYS[1]); redis.call('expire', KEYS[1], ARGV[3])
redis.call('incr', KEYS[2]); redis.call('expire', KEYS[2], ARGV[4])
return 0
"""
# KEYS: day counter, week counter, day takers, week takers. ARGV: as _TAKE, then the task id.
# Returns 0 when a use was taken (or this task already holds one), 1 or 2 when the day or week is full.
_TAKE_ONCE = """
if redis.call('sismember', KEYS[4], ARGV[5]) == 1 then return 0 end
local day = tonumber(redis.call('get', KEYS[1]) or '0')
local week = tonumber(redis.call('get', KEYS[2]) or '0')
if tonumber(ARGV[1]) >= 0 and day >= tonumber(ARGV[1]) then return 1 end
if tonumber(ARGV[2]) >= 0 and week >= tonumber(ARGV[2]) then return 2 end
redis.call('incr', KEYS[1]); redis.call('expire', KEYS[1], ARGV[3])
redis.call('incr', KEYS[2]); redis.call('expire', KEYS[2], ARGV[4])
redis.call('sadd', KEYS[3], ARGV[5]); redis.call('expire', KEYS[3], ARGV[3])
redis.call('sadd', KEYS[4], ARGV[5]); redis.call('expire', KEYS[4], ARGV[4])
return 0
"""
_GIVE_BACK = """
for _, key in ipairs(KEYS) do
  if tonumber(redis.call('get', key) or '0') > 0 then redis.call('decr', key) end
end
return 0
"""


@dataclass(frozen=True)
class QuotaFull:
    quota: str
    window: str  # "day" | "week"
    reopens_at: float  # Unix time


def _windows(now: dt.datetime) -> tuple[str, str, dt.datetime, dt.datetime]:
    day = now.strftime("%Y-%m-%d")
    iso = now.isocalendar()
    week = f"{iso.year}-W{iso.week:02d}"
    next_day = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    next_week = dt.datetime.combine(
        now.date() + dt.timedelta(days=7 - now.weekday()), dt.time(), tzinfo=dt.UTC
    )
    return day, week, next_day, next_week


class QuotaGate:
    """The quotas of one account."""

    def __init__(
        self, client: redis.Redis, names: Names, account: str, limits: dict[str, QuotaLimit]
    ) -> None:
        self.client = client
        self.names = names
        self.account = account
        self.limits = limits

    def _keys(self, quota: str, now: dt.datetime) -> tuple[str, str, dt.datetime, dt.datetime]:
        day, week, next_day, next_week = _windows(now)
        return (
            self.names.quota_key(self.account, quota, day),
            self.names.quota_key(self.account, quota, week),
            next_day,
            next_week,
        )

    @translated
    def take(self, quota: str, now: dt.datetime | None = None) -> QuotaFull | None:
        """Take one use of ``quota``; a :class:`QuotaFull` (nothing taken) when a window is full."""
        return self._take(quota, None, now)

    @translated
    def take_once(self, quota: str, task_id: str, now: dt.datetime | None = None) -> QuotaFull | None:
        """Like :meth:`take`, but a task that already took ``quota`` this week takes nothing more."""
        return self._take(quota, task_id, now)

    def _take(self, quota: str, task_id: str | None, now: dt.datetime | None) -> QuotaFull | None:
        limit = self.limits.get(quota)
        if limit is None:
            return None
        now = now or dt.datetime.now(dt.UTC)
        day_key, week_key, next_day, next_week = self._keys(quota, now)
        args: list[int | str] = [
            -1 if limit.day is None else limit.day,
            -1 if limit.week is None else limit.week,
            int((next_day - now).total_seconds()) + 3600,
            int((next_week - now).total_seconds()) + 3600,
        ]
        if task_id is None:
            full = int(self.client.eval(_TAKE, 2, day_key, week_key, *args))
        else:
            takers = (self.names.quota_takers_key(day_key), self.names.quota_takers_key(week_key))
            full = int(self.client.eval(_TAKE_ONCE, 4, day_key, week_key, *takers, *args, task_id))
        if full == 0:
            return None
        if full == 1:
            return QuotaFull(quota, "day", next_day.timestamp())
        return QuotaFull(quota, "week", next_week.timestamp())

    def taker(self, task_id: str) -> Callable[[str], None]:
        """``ActionContext.take_quota`` for one task: takes a use once, raises OverQuota when full."""

        def take(quota: str) -> None:
            try:
                full = self.take_once(quota, task_id)
            except StateError as exc:  # before the side effect: trying again later is safe
                raise Retryable(f"could not take a use of quota {quota!r}: {exc}") from None
            if full is not None:
                raise OverQuota(full.quota, full.window, full.reopens_at)

        return take

    @translated
    def give_back(self, quota: str, now: dt.datetime | None = None) -> None:
        if quota not in self.limits:
            return
        day_key, week_key, _, _ = self._keys(quota, now or dt.datetime.now(dt.UTC))
        self.client.eval(_GIVE_BACK, 2, day_key, week_key)

    @translated
    def used(self, quota: str, now: dt.datetime | None = None) -> tuple[int, int]:
        day_key, week_key, _, _ = self._keys(quota, now or dt.datetime.now(dt.UTC))
        day, week = self.client.mget(day_key, week_key)
        return int(day or 0), int(week or 0)
