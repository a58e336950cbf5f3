"""The wire format: immutable command and result models with ``encode``/``decode``.

See docs/PROTOCOL.md. ``zigral schema`` prints the JSON Schema of :class:`Command`.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from zigral.constants import ADDRESS_PATTERN, PRIORITIES, command_route
from zigral.errors import Rejected

Priority = Literal["low", "normal", "high", "critical"]
ID_PATTERN = r"^[A-Za-z0-9._:-]+$"
MAX_DEPTH = 32  # nesting levels of a whole body (params included), checked before the parser sees it


class Command(BaseModel):
    """One task for one agent."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(
        default_factory=lambda: uuid.uuid4().hex,
        min_length=1,
        max_length=128,
        pattern=ID_PATTERN,
        description="the client's id, or generated; the same id is executed at most once",
    )
    agent: str = Field(
        min_length=1, max_length=40, description="an installed agent's name (`zigral schema --list`)"
    )
    action: str = Field(min_length=1, max_length=60, pattern=r"^[a-z][a-z0-9_]*$")
    params: dict[str, Any] = Field(default_factory=dict, description="the action's parameters")
    priority: Priority = "normal"
    timeout: float | None = Field(
        None, gt=0, allow_inf_nan=False, description="seconds for the work; default from settings"
    )
    max_age: float | None = Field(
        None, gt=0, allow_inf_nan=False, description="seconds after created_at past which it expires"
    )
    created_at: float = Field(
        default_factory=time.time, allow_inf_nan=False, description="Unix time the client created it"
    )
    capture: bool = Field(False, description="save a screenshot and the HTML after the action")
    account: str | None = Field(
        None,
        pattern=ADDRESS_PATTERN,
        description="version 2: run only on a VM serving this account (its queue waits for one)",
    )
    vm_id: str | None = Field(
        None, pattern=ADDRESS_PATTERN, description="version 2: run only on this VM (operator work)"
    )
    version: Literal[1, 2] = 1  # constants.PROTOCOL_VERSION is the newest

    @model_validator(mode="before")
    @classmethod
    def _version_of_an_address(cls, data: Any) -> Any:
        """A command with an account or a VM id is version 2; said so or not (the client sets it)."""
        if isinstance(data, dict) and "version" not in data and (data.get("account") or data.get("vm_id")):
            return {**data, "version": 2}
        return data

    @field_validator("version", mode="before")
    @classmethod
    def _exactly_one(cls, value: Any) -> Any:
        if type(value) is not int:  # a strict Literal[1, 2] still takes true and 1.0
            raise ValueError(f"version is the integer 1 or 2, not {type(value).__name__}")
        return value

    @model_validator(mode="after")
    def _addressed_is_version_2(self) -> Command:
        if self.version < 2 and (self.account is not None or self.vm_id is not None):
            raise ValueError("account and vm_id need version 2")
        return self

    @property
    def routing_key(self) -> str:
        return command_route(self.agent, self.action, self.account, self.vm_id)

    @property
    def amqp_priority(self) -> int:
        return PRIORITIES[self.priority]

    def encode(self) -> bytes:
        # A version 1 command is written exactly as before, so that agents of version 1 still take it.
        unset = {key for key in ("account", "vm_id") if getattr(self, key) is None}
        return self.model_dump_json(exclude=unset).encode()

    @classmethod
    def decode(cls, body: bytes, max_bytes: int) -> Command:
        """Parse a message body; :class:`Rejected` with a clear reason when it is not a valid command."""
        return cls.validate_data(parse_body(body, max_bytes))

    @classmethod
    def validate_data(cls, data: dict[str, Any]) -> Command:
        """A parsed body as a command, strictly: no strings or booleans for numbers, as the schema says."""
        try:
            return cls.model_validate(data, strict=True)
        except ValidationError as exc:
            raise Rejected("invalid command: " + describe(exc)) from None


class Result(BaseModel):
    """What an agent publishes on the events exchange and to ``reply_to`` when a task changes status."""

    model_config = ConfigDict(frozen=True)

    id: str
    agent: str
    action: str
    status: str
    attempt: int = 0
    vm_id: str = ""
    result: Any = None
    error: str | None = None
    captures: list[str] = Field(default_factory=list)
    at: float = Field(default_factory=time.time)
    version: Literal[1] = 1  # PROTOCOL_VERSION

    def encode(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def decode(cls, body: bytes) -> Result:
        return cls.model_validate_json(body)


def describe(exc: ValidationError) -> str:
    """A ValidationError as ``field: message`` pairs, naming the bad value."""
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "(body)"
        parts.append(f"{where}: {err['msg']} (got {err.get('input')!r})"[:300])
    return "; ".join(parts)


_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_STRUCTURE = re.compile(r'[\[\]{}"\\]')  # the only characters that open, close or escape anything
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89abAB]")


def nesting_depth(text: str, limit: int) -> int:
    """How deep a JSON text nests, counted without parsing it (linear; stops once past ``limit``)."""
    depth = deepest = 0
    in_string = False
    skip = -1
    for match in _STRUCTURE.finditer(text):
        pos = match.start()
        if pos == skip:  # the character after a backslash inside a string
            continue
        ch = match.group()
        if in_string:
            if ch == "\\":
                skip = pos + 1
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > limit:
                break
        elif ch in "]}":
            depth -= 1
    return deepest


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise Rejected(f"duplicate key {key[:60]!r} in a JSON object")
        out[key] = value
    return out


def _constant(name: str) -> Any:
    raise Rejected(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise Rejected(f"number {text[:40]} is out of range")
    return value


def parse_body(body: bytes, max_bytes: int, max_depth: int = MAX_DEPTH) -> dict[str, Any]:
    """A message body as a JSON object, bounded before parsing; :class:`Rejected` names what is wrong.

    UTF-8 only, at most ``max_bytes`` and ``max_depth`` levels, no duplicate keys, no NaN or Infinity, no
    lone surrogates. Nothing in a body can make this raise anything but :class:`Rejected`.
    """
    if len(body) > max_bytes:
        raise Rejected(f"body of {len(body)} bytes exceeds the limit of {max_bytes}")
    try:
        text = body.decode("utf-8")  # strict: no UTF-16/32, no encoded surrogates
    except UnicodeDecodeError as exc:
        raise Rejected(f"malformed JSON: the body is not UTF-8 ({exc.reason} at byte {exc.start})") from None
    if nesting_depth(text, max_depth) > max_depth:
        raise Rejected(f"malformed JSON: nested deeper than {max_depth} levels")
    try:
        data = json.loads(text, object_pairs_hook=_object, parse_constant=_constant, parse_float=_finite)
    except Rejected as exc:
        raise Rejected(f"malformed JSON: {exc}") from None
    except json.JSONDecodeError as exc:
        raise Rejected(f"malformed JSON: {exc}") from None
    except (ValueError, RecursionError, MemoryError) as exc:  # an int past Python's digit limit...
        raise Rejected(f"malformed JSON: {type(exc).__name__}: {str(exc)[:200]}") from None
    if not isinstance(data, dict):
        raise Rejected(f"a command is a JSON object, got {type(data).__name__}")
    if _SURROGATE_ESCAPE.search(text):
        try:
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise Rejected("malformed JSON: a string holds a lone UTF-16 surrogate") from None
    return data


_LEADING_ID = re.compile(rb'\A\s*\{\s*"id"\s*:\s*"([A-Za-z0-9._:-]{1,128})"')


def peek_id(body: bytes, max_bytes: int = 16 * 1024 * 1024) -> str | None:
    """The ``id`` of a body that is not a valid command, if one can be read, to record its rejection.

    A body past ``max_bytes`` is not parsed: its id is read only if it is the first key, as clients write it.
    """
    if len(body) > max_bytes:
        leading = _LEADING_ID.match(body[:300])
        return leading.group(1).decode() if leading else None
    try:
        data = parse_body(body, max_bytes)
    except Rejected:
        return None
    task_id = data.get("id")
    return task_id if isinstance(task_id, str) and _ID.match(task_id) else None


def valid_id(value: object) -> str | None:
    """``value`` if it is a usable task id (an AMQP message_id, say), else None."""
    return value if isinstance(value, str) and _ID.match(value) else None


def fingerprint(body: bytes) -> str:
    """A short digest of a body: the same bytes, redelivered, have the same fingerprint."""
    return hashlib.sha256(body).hexdigest()[:32]
