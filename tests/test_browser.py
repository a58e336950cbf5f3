from __future__ import annotations

import pytest
from playwright.sync_api import Error as PlaywrightError

from zigral.browser import translate
from zigral.deadline import Deadline
from zigral.errors import Rejected


def test_a_redirect_to_a_local_file_is_refused_not_retried() -> None:
    error = translate(PlaywrightError("net::ERR_UNSAFE_REDIRECT at http://site/redirect"), Deadline(60))
    assert isinstance(error, Rejected) and not error.retryable


@pytest.mark.parametrize(
    "code", ["ERR_PROXY_AUTH_UNSUPPORTED", "ERR_INVALID_AUTH_CREDENTIALS", "ERR_PROXY_AUTH_REQUESTED"]
)
def test_a_proxy_authentication_failure_names_the_credentials_and_is_not_retried(code: str) -> None:
    error = translate(PlaywrightError(f"net::{code} at https://example.com/"), Deadline(60))
    assert not error.retryable
    assert "the upstream proxy refused the credentials" in str(error)


def test_other_network_errors_stay_retryable() -> None:
    assert translate(PlaywrightError("net::ERR_CONNECTION_RESET at http://x/"), Deadline(60)).retryable
