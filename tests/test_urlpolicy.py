from __future__ import annotations

import pytest

from zigral.errors import Rejected
from zigral.urlpolicy import UrlPolicy

policy = UrlPolicy(denied_ports=frozenset({9222, 6379}))


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "javascript:alert(1)",
        "ftp://example.com/",
        "http://127.0.0.1:9222/json",
        "http://169.254.169.254/latest/meta-data/",
        "http://localhost/",
        "http://127.0.0.2/",
        "http://2130706433/",
        "http://0x7f000001/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://10.1.2.3/",
        "http://192.168.0.1/",
        "http://[fd00::1]/",
        "http://0.0.0.0/",
    ],
)
def test_internal_and_non_web_urls_are_refused(url: str) -> None:
    with pytest.raises(Rejected, match="URL refused"):
        policy.check(url)


def test_an_explicitly_allowed_loopback_host_and_port_is_reachable() -> None:
    allowing = UrlPolicy(allow_private=("127.0.0.1:8765",), denied_ports=frozenset({9222}))
    assert allowing.check("http://127.0.0.1:8765/page") == "http://127.0.0.1:8765/page"
    with pytest.raises(Rejected):
        allowing.check("http://127.0.0.1:8766/page")


def test_an_allowed_cidr_never_opens_the_stacks_own_ports() -> None:
    allowing = UrlPolicy(allow_private=("127.0.0.0/8",), denied_ports=frozenset({9222}))
    assert allowing.check("http://127.0.0.1:8000/")
    with pytest.raises(Rejected, match="belongs to the stack"):
        allowing.check("http://127.0.0.1:9222/json")


def test_per_agent_allowed_hosts_admit_subdomains_only_of_listed_hosts() -> None:
    narrow = UrlPolicy(allowed_hosts=("linkedin.com",), allow_private=("www.linkedin.com", "linkedin.com"))
    assert narrow.check("https://www.linkedin.com/feed/")
    with pytest.raises(Rejected, match="not in this agent's allowed hosts"):
        narrow.check("https://evil-linkedin.com/")


def test_the_machines_own_public_address_is_refused_like_loopback() -> None:
    own = UrlPolicy(local_addresses=frozenset({"8.8.8.8", "2001:4860:4860::8888"}))
    for url in ("http://8.8.8.8/", "http://[2001:4860:4860::8888]:15672/"):
        with pytest.raises(Rejected, match="this machine's own address"):
            own.check(url)
    assert own.check("http://8.8.4.4/") == "http://8.8.4.4/"


def test_the_policy_of_a_stack_knows_this_machines_interface_addresses() -> None:
    from zigral.config import load_settings

    policy = UrlPolicy.from_settings(load_settings(), "lincoln")
    assert {"127.0.0.1", "::1"} <= policy.local_addresses
