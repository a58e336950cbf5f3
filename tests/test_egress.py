from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from zigral.config import load_settings
from zigral.egress import allow_lines, own_addresses, template_values, upstream_lines
from zigral.errors import ConfigError
from zigral.render import render


def test_the_stacks_own_ports_and_its_services_ports_are_all_refused() -> None:
    settings = load_settings(redis={"url": "redis://10.0.0.9:6390/0"})
    ports = template_values(settings)["egress_stack_ports"].split()
    assert {"9222", "5900", "6080", "8080", "9101", "9102", "9103", "3128", "6390", "5672"} == set(ports)


def test_allowed_hosts_ports_and_networks_become_squid_rules() -> None:
    settings = load_settings(runtime={"allow_private": ["127.0.0.1:8765", "10.0.0.0/8", "intranet.example"]})
    acls, rules = allow_lines(settings)
    assert acls.splitlines() == [
        "acl allow_0 dst 127.0.0.1",
        "acl allow_0_port port 8765",
        "acl allow_1 dst 10.0.0.0/8",
        "acl allow_2 dstdomain intranet.example",
    ]
    assert rules.splitlines()[0] == "http_access allow from_browser allow_0 allow_0_port"


def test_an_upstream_proxy_is_chained_with_its_credentials_and_nothing_goes_direct() -> None:
    settings = load_settings(egress={"upstream_url": "http://bob:p%40ss@proxy.example:3129"})
    lines = upstream_lines(settings).splitlines()
    assert lines[0].startswith("cache_peer proxy.example parent 3129 0 ")
    assert lines[0].endswith(" login=bob:p@ss")
    assert lines[1] == "never_direct allow all"
    assert "p@ss" not in str(settings.egress)  # masked in any repr or log of the settings


@pytest.mark.parametrize("url", ["socks5://h:1", "http://h", "http://a b:c@h:1"])
def test_an_unusable_upstream_url_is_a_clear_config_error(url: str) -> None:
    with pytest.raises(ConfigError, match="upstream proxy"):
        upstream_lines(load_settings(egress={"upstream_url": url}))


def test_the_unspecified_address_and_this_machines_own_addresses_are_internal(open_dir: Path) -> None:
    settings = load_settings(
        paths={"state_dir": open_dir / "s", "run_dir": open_dir / "r", "log_dir": open_dir / "l"}
    )
    render(settings)
    conf = settings.paths.squid_conf.read_text()
    internal = " ".join(line for line in conf.splitlines() if line.startswith("acl internal dst "))
    assert "::/128" in internal.split()
    for address in own_addresses():
        assert address in internal.split(), address
    assert "127.0.0.1" in own_addresses() and "::1" in own_addresses()
    if shutil.which("squid"):  # squid itself accepts the file
        done = subprocess.run(
            ["squid", "-k", "parse", "-f", str(settings.paths.squid_conf)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-2000:]
