"""The wire format: immutable command and result models with ``encode``/``decode``.

See docs/PROTOCOL.md. ``zigral schema`` prints the JSON Schema of :class:`Command`.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from zigral.constants import PRIORITIES
from zigral.errors import Rejected

Priority = Literal["low", "normal", "high", "critical"]


class Command(BaseModel):
    """One task for one agent."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(
        default_factory=lambda: uuid.uuid4().hex,
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9._:-]+$",
        description="the client's id, or generated; the same id is executed at most once",
    )
    agent: str = Field(min_length=1, max_length=40, description="lincoln or shaun")
    action: str = Field(min_length=1, max_length=60, pattern=r"^[a-z][a-z0-9_]*$")
    params: dict[str, Any] = Field(default_factory=dict, description="the action's parameters")
    priority: Priority = "normal"
    timeout: float | None = Field(None, gt=0, description="seconds for the work; default from settings")
    max_age: float | None = Field(None, gt=0, description="seconds after created_at past which it expires")
    created_at: float = Field(default_factory=time.time, description="Unix time the client created it")
    capture: bool = Field(False, description="save a screenshot and the HTML after the action")
    version: Literal[1] = 1  # PROTOCOL_VERSION

    @property
    def amqp_priority(self) -> int:
        return PRIORITIES[self.priority]

    def encode(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def decode(cls, body: bytes, max_bytes: int) -> Command:
        """Parse a message body; :class:`Rejected` with a clear reason when it is not a valid command."""
        if len(body) > max_bytes:
            raise Rejected(f"body of {len(body)} bytes exceeds the limit of {max_bytes}")
        try:
            data = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise Rejected(f"malformed JSON: {exc}") from None
        if not isinstance(data, dict):
            raise Rejected(f"a command is a JSON object, got {type(data).__name__}")
        try:
            return cls.model_validate(data)
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


def peek_id(body: bytes, limit: int = 16 * 1024 * 1024) -> str | None:
    """The ``id`` of a body that is not a valid command, if one can be read, to record its rejection."""
    if len(body) > limit:
        return None
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    task_id = data.get("id") if isinstance(data, dict) else None
    return task_id if isinstance(task_id, str) and _ID.match(task_id) else None
