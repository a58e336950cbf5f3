"""Lincoln's params and results: the published catalogue of its actions (``zigral schema lincoln.*``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from zigral.actions import Params, Result

NOTE_LIMIT = 300
MAX_HANDOFFS = 3  # hand-offs to a person within one command before it gives up


class SearchParams(Params):
    keywords: str = Field(min_length=1, max_length=200)
    limit: int = Field(10, ge=1, le=100)
    network: list[str] = Field(
        default_factory=list, description="connection degrees: F (1st), S (2nd), O (3rd+)"
    )
    location: str | None = Field(None, max_length=100)

    @field_validator("network")
    @classmethod
    def _degrees(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if v not in ("F", "S", "O")]
        if bad:
            raise ValueError(f"network takes F, S or O, not {bad}")
        return value


class ProfileParams(Params):
    profile_url: str = Field(min_length=1, max_length=500)


class ConnectParams(ProfileParams):
    note: str | None = Field(None, max_length=NOTE_LIMIT, description=f"at most {NOTE_LIMIT} characters")


class MessageParams(ProfileParams):
    text: str = Field(min_length=1, max_length=8000)


# ---------------------------------------------------------------------------- results
VERIFIED = "the check made on the page before reporting success"


class SessionResult(Result):
    logged_in: bool
    name: str | None = Field(None, description="the signed-in member (the alt text of their nav photo)")
    blocked_by: str | None = Field(None, description="signed out: what LinkedIn shows instead")
    verified: str | None = Field(None, description=VERIFIED)


class LoginResult(SessionResult):
    already: bool = Field(description="the browser was signed in already (nothing typed)")


class Person(Result):
    name: str = Field(description="as shown, without screen-reader text")
    headline: str
    location: str
    profile_url: str = Field(description="https://www.linkedin.com/in/<slug>/ (no tracking query)")


class SearchResult(Result):
    people: list[Person]
    pages: int = Field(description="result pages read")
    total: int = Field(description="results the search announced")
    verified: str = Field(description=VERIFIED)


class Position(Result):
    title: str
    company: str = Field(description="without the employment type (' · Full-time')")
    dates: str = Field(description="e.g. 'Jan 2020 - Present', without the duration")


class ProfileResult(Result):
    name: str
    headline: str
    location: str
    about: str | None = Field(description="None: the profile has no About section")
    current_position: Position | None = Field(description="the first Experience entry")
    experience: list[Position]
    degree: str | None = Field(description="1st, 2nd or 3rd (None: not shown)")
    can_connect: bool = Field(description="Connect is offered, directly or under More actions")
    can_message: bool = Field(description="a 1st-degree connection with Message (InMail does not count)")
    pending: bool = Field(description="an invitation is waiting for an answer")
    profile_url: str
    verified: str = Field(description=VERIFIED)


class ConnectResult(Result):
    status: Literal["sent", "pending", "already_connected"]
    sent: bool = Field(description="an invitation went out in this run")
    name: str
    note: bool | None = Field(None, description="sent with a note")
    verified: str = Field(description=VERIFIED)


class MessageResult(Result):
    status: Literal["sent", "already_sent", "not_possible"]
    sent: bool = Field(description="a message went out in this run")
    name: str | None = None
    reason: str | None = Field(None, description="why not possible")
    verified: str = Field(description=VERIFIED)


class SelfcheckResult(Result):
    resolved: dict[str, bool] = Field(description="each locator checked: found on its page")
    missing: list[str] = Field(description="the locators that found nothing")
    ok: bool
    verified: str = Field(description="the pages visited")
