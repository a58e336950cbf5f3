"""Every queue, exchange and Redis key name in one place.

All names live under a namespace (``ZIGRAL_RUNTIME__NAMESPACE``, default ``zigral``): stacks that share a
RabbitMQ and a Redis and should share work use the same namespace; a test stack uses its own.
"""

from __future__ import annotations

from dataclasses import dataclass

PROTOCOL_VERSION = (
    2  # 2 adds a command's optional ``account`` and ``vm_id``; a version 1 command is unchanged
)

# The first word of an addressed command's routing key (docs/PROTOCOL.md, "Addressed commands"). A version 1
# routing key starts with the agent's name, so no agent may be called one of these.
ACCOUNT_ROUTE, VM_ROUTE = "acct", "vm"
# An account or a VM id as it may appear in a routing key, a queue name and a Redis key: no topic wildcards,
# no spaces; dots are allowed (an e-mail address), as the routing key's word count keeps them apart.
ADDRESS_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,99}$"

# The entry point group agents register under (zigral.registry): Zigral's own two and anyone's.
AGENT_ENTRY_POINTS = "zigral.agents"

# JSON priority names -> AMQP message priority. Agent queues are declared with x-max-priority = 3.
PRIORITIES = {"low": 0, "normal": 1, "high": 2, "critical": 3}
MAX_PRIORITY = max(PRIORITIES.values())

# Task statuses. Terminal ones end a task; its stored result is re-published on redelivery.
QUEUED, RUNNING, DEFERRED, NEEDS_HUMAN = "queued", "running", "deferred", "needs_human"
SUCCEEDED, FAILED, REJECTED, TIMED_OUT, EXPIRED = "succeeded", "failed", "rejected", "timed_out", "expired"
TERMINAL = frozenset({SUCCEEDED, FAILED, REJECTED, TIMED_OUT, EXPIRED})
# A task memo key: set by an action before work that a retry with the memo repairs (a write into cells it
# knows); a timeout after it is retried instead of final, so nothing is left half-done without a record.
RESUMABLE = "resumable"
STATUSES = (QUEUED, RUNNING, DEFERRED, NEEDS_HUMAN, *sorted(TERMINAL))

# AMQP headers the runtime sets.
HEADER_REASON = "x-zigral-reason"  # why a message was dead-lettered
HEADER_STATUS = "x-zigral-status"  # failed | rejected, on dead letters
HEADER_AGENT = "x-zigral-agent"


@dataclass(frozen=True)
class Names:
    """The names of one namespace's exchanges, queues and Redis keys."""

    namespace: str = "zigral"

    # ------------------------------------------------------------------ RabbitMQ
    @property
    def commands_exchange(self) -> str:
        """Topic exchange; a command for agent A is published with routing key ``A.<action>``."""
        return f"{self.namespace}.commands"

    @property
    def events_exchange(self) -> str:
        """Topic exchange; every status change is published as ``task.<agent>.<status>``."""
        return f"{self.namespace}.events"

    @property
    def dead_letter_exchange(self) -> str:
        return f"{self.namespace}.dlx"

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.namespace}.dead"

    def agent_queue(self, agent: str) -> str:
        return f"{self.namespace}.{agent}"

    def retry_queue(self, agent: str) -> str:
        """Holds a retried command until its per-message TTL ends, then dead-letters it back to the agent."""
        return f"{self.namespace}.{agent}.retry"

    def deferred_queue(self, agent: str) -> str:
        """Like the retry queue, for commands deferred until a quota window reopens (hours, not seconds),
        so that they never hold up short retries behind them."""
        return f"{self.namespace}.{agent}.deferred"

    def account_queue(self, agent: str, account: str, waiting: str = "") -> str:
        """The queue of an agent's commands addressed to one account: only the VMs serving that account
        consume it. ``waiting`` (``retry`` or ``deferred``): where such a command waits before it comes back.
        The kind is a word before the account, so that no account name can reach another queue."""
        return f"{self.namespace}.{agent}.acct{'-' + waiting if waiting else ''}.{account}"

    def vm_queue(self, agent: str, vm_id: str, waiting: str = "") -> str:
        """The queue of an agent's commands addressed to one VM (and its waiting queues, as above)."""
        return f"{self.namespace}.{agent}.vm{'-' + waiting if waiting else ''}.{vm_id}"

    def expired_queue(self, agent: str) -> str:
        """Commands whose AMQP expiration passed in the agent's queue; the agent records them ``expired``.
        (Not back to the agent queue itself: RabbitMQ drops a message dead-lettered in a cycle.)"""
        return f"{self.namespace}.{agent}.expired"

    # ------------------------------------------------------------------ Redis
    # A task id may hold ':' and '.', so a key built from one ends with the id and nothing else, and each
    # kind of per-id key has its own prefix: no id can reach another task's key or any fixed key.
    def task_key(self, task_id: str) -> str:
        """Hash: the task record (status, agent, action, attempts, timings, result, error, captures)."""
        return f"{self.namespace}:task:{task_id}"

    def history_key(self, task_id: str) -> str:
        """List: the task's status history, one JSON object per change."""
        return f"{self.namespace}:history:{task_id}"

    def crash_key(self, fingerprint: str) -> str:
        """Counter with a TTL: redeliveries of one message body whose handling never finished (a crash)."""
        return f"{self.namespace}:crash:{fingerprint}"

    def autoid_key(self, fingerprint: str) -> str:
        """String with a TTL: the id given to a body that came without one, kept until it is settled, so
        that its redelivery after a crash is the same task."""
        return f"{self.namespace}:autoid:{fingerprint}"

    @property
    def epoch_key(self) -> str:
        """String: a random value set once; when it is gone or changed, Redis lost its data."""
        return f"{self.namespace}:epoch"

    @property
    def epoch_lost_key(self) -> str:
        """String: when an agent found the epoch gone (JSON: at, lost_epoch, epoch), for the status page."""
        return f"{self.namespace}:epoch-lost"

    def lock_key(self, task_id: str) -> str:
        """String with a TTL: which worker runs the task now (guards duplicate ids across VMs)."""
        return f"{self.namespace}:lock:{task_id}"

    @property
    def recent_key(self) -> str:
        """Sorted set: task ids by last change time, for ``zigral tasks``."""
        return f"{self.namespace}:tasks"

    @property
    def events_stream(self) -> str:
        """Capped stream of every status change, for ``zigral watch``."""
        return f"{self.namespace}:events"

    def heartbeat_key(self, agent: str, vm_id: str, pid: int) -> str:
        """String with a TTL of interval + 1 s: a live worker. It vanishes when the worker dies."""
        return f"{self.namespace}:heartbeat:{agent}:{vm_id}:{pid}"

    def heartbeat_pattern(self, agent: str = "*", vm_id: str = "*") -> str:
        return f"{self.namespace}:heartbeat:{agent}:{vm_id}:*"

    @staticmethod
    def heartbeat_agent(key: str) -> str:
        """The agent a heartbeat key belongs to."""
        return key.split(":")[-3]

    @property
    def heartbeats_index(self) -> str:
        """Sorted set: heartbeat keys scored by when they expire, so live workers are listed without SCAN."""
        return f"{self.namespace}:heartbeats"

    def quota_key(self, account: str, quota: str, window: str) -> str:
        """Counter with a TTL past its window's end: uses of a quota by an account in one day or ISO week."""
        return f"{self.namespace}:quota:{account}:{quota}:{window}"

    @staticmethod
    def quota_takers_key(counter_key: str) -> str:
        """Set with the counter's TTL: the task ids that took a use of that quota counter (counted once)."""
        return f"{counter_key}:takers"

    def recycle_key(self, vm_id: str) -> str:
        """String with a TTL: a Chromium recycle of this VM is under way; its agents stop taking commands."""
        return f"{self.namespace}:vm:{vm_id}:recycle"

    def drained_key(self, vm_id: str) -> str:
        """Set: heartbeat keys of this VM's workers that are idle and detached for the recycle under way."""
        return f"{self.namespace}:vm:{vm_id}:recycle:drained"

    def browser_commands_key(self, vm_id: str) -> str:
        """Counter: browser commands this VM's Chromium has served since it last started."""
        return f"{self.namespace}:vm:{vm_id}:browser:commands"

    def needs_human_key(self, agent: str, vm_id: str) -> str:
        """String: why this VM's agent waits for a person (its site session is gone); absent when fine."""
        return f"{self.namespace}:vm:{vm_id}:needs_human:{agent}"

    @property
    def fleet_key(self) -> str:
        """Hash: ``<vm_id>/<agent>`` -> the worker's last heartbeat (JSON), kept after the heartbeat
        expires so that a VM that went silent is still listed, as gone (``zigral fleet``)."""
        return f"{self.namespace}:fleet"


def command_route(agent: str, action: str, account: str | None = None, vm_id: str | None = None) -> str:
    """The routing key of a command: ``<agent>.<action>`` (version 1, the agent's shared queue),
    ``acct.<agent>.<account>.<action>`` (its account's queue) or ``vm.<agent>.<vm_id>.<action>`` (its VM's).

    A VM address wins over an account: the VM checks that it serves the account. Addressed keys do not start
    with the agent's name, so the shared queue's binding ``<agent>.#`` never takes them.
    """
    if vm_id:
        return f"{VM_ROUTE}.{agent}.{vm_id}.{action}"
    if account:
        return f"{ACCOUNT_ROUTE}.{agent}.{account}.{action}"
    return f"{agent}.{action}"


@dataclass(frozen=True)
class Route:
    """A command routing key read back: whose, which action (or ``retry``), to which account or VM."""

    agent: str
    verb: str
    account: str | None = None
    vm_id: str | None = None


def parse_route(routing_key: str) -> Route:
    """The inverse of :func:`command_route` (also for the ``retry`` verb of a command coming back).
    The agent and the verb are single words, so an address holding dots is whatever lies between them."""
    words = routing_key.split(".")
    if len(words) >= 4 and words[0] in (ACCOUNT_ROUTE, VM_ROUTE):
        address = ".".join(words[2:-1])
        if words[0] == ACCOUNT_ROUTE:
            return Route(words[1], words[-1], account=address)
        return Route(words[1], words[-1], vm_id=address)
    agent, _, verb = routing_key.partition(".")
    return Route(agent, verb)
