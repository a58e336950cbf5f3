"""Agents' windows: a page another agent closes while this one looks is not this agent's."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Error as PlaywrightError

from zigral.windows import _window_if_open


class _Session:
    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers

    def send(self, method: str, params: dict[str, Any] | None = None) -> Any:
        answer = self.answers[method]
        if isinstance(answer, Exception):
            raise answer
        return answer

    def detach(self) -> None:
        pass


class _Context:
    def __init__(self, session: _Session) -> None:
        self.session = session

    def new_cdp_session(self, page: Any) -> _Session:
        return self.session


def test_a_page_closed_by_another_agent_has_no_window_instead_of_failing_the_command() -> None:
    gone = _Session(
        {"Target.getTargetInfo": PlaywrightError("Protocol error: No target with given id found")}
    )
    assert _window_if_open(gone, _Context(gone), object()) is None  # type: ignore[arg-type]


def test_a_live_page_has_its_window() -> None:
    live = _Session(
        {
            "Target.getTargetInfo": {"targetInfo": {"targetId": "T1"}},
            "Browser.getWindowForTarget": {"windowId": 7},
        }
    )
    assert _window_if_open(live, _Context(live), object()) == 7  # type: ignore[arg-type]
