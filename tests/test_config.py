from __future__ import annotations

import socket
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from zigral import access
from zigral.config import REPO_ROOT, load_settings, mask_url, masked, to_env
from zigral.errors import ConfigError


def test_nested_settings_come_from_prefixed_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZIGRAL_DISPLAY__NUMBER", "42")
    monkeypatch.setenv("ZIGRAL_BROWSER__CDP_PORT", "9333")
    settings = load_settings()
    assert settings.display.name == ":42"
    assert settings.cdp_url == "http://127.0.0.1:9333"


def test_an_invalid_value_names_the_key_and_the_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZIGRAL_VNC__PORT", "70000")
    with pytest.raises(ConfigError, match=r"ZIGRAL_VNC__PORT='70000'"):
        load_settings()


def test_colliding_ports_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"vnc\.port and web\.port are both 5900"):
        load_settings(web={"port": 5900})


def test_passwords_in_urls_are_masked() -> None:
    assert mask_url("amqp://bob:s3cret@mq:5672/%2F") == "amqp://bob:***@mq:5672/%2F"
    assert mask_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
    settings = load_settings(rabbitmq={"url": "amqp://bob:s3cret@mq/%2F"})
    assert "s3cret" not in str(masked(settings))


def test_settings_round_trip_through_the_rendered_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    original = load_settings(display={"number": 7}, browser={"extra_args": ["--lang=fr"]})
    for key, value in to_env(original).items():
        monkeypatch.setenv(key, value)
    assert load_settings() == original


def test_the_public_url_is_an_address_of_this_machine_by_default() -> None:
    url = urlsplit(load_settings().web.public_url)
    assert url.scheme == "https" and url.port == 8080 and url.path == "/"
    host = url.hostname or ""
    assert host not in ("localhost", "this VM") and not host.startswith("127.")
    with socket.socket() as probe:
        probe.bind((host, 0))  # only an address (or a name of one) this machine has can be bound


def test_the_public_url_takes_the_public_host_or_a_specific_bind() -> None:
    assert (
        load_settings(web={"public_host": "vm7.example.org"}).web.public_url
        == "https://vm7.example.org:8080/"
    )
    assert load_settings(web={"public_host": "2001:db8::7"}).web.public_url == "https://[2001:db8::7]:8080/"
    assert load_settings(web={"bind": "10.1.2.3", "port": 8443}).web.public_url == "https://10.1.2.3:8443/"


def test_captures_default_to_the_state_directory_when_nginx_cannot_reach_the_checkout(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(access, "blocker", lambda path, user: f"{user} cannot enter /root (mode drwx------)")
    settings = load_settings(paths={"state_dir": tmp_path})
    assert settings.captures.dir == tmp_path / "captures"
    assert to_env(settings)["ZIGRAL_CAPTURES__DIR"] == str(tmp_path / "captures")  # the programs agree
    chosen = load_settings(paths={"state_dir": tmp_path}, captures={"dir": "/srv/shots"})
    assert chosen.captures.dir == Path("/srv/shots")


def test_captures_stay_in_the_checkout_when_nginx_can_reach_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(access, "blocker", lambda path, user: None)
    assert load_settings().captures.dir == REPO_ROOT / "captures"
