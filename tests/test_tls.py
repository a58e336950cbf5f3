from __future__ import annotations

import stat
import subprocess
from pathlib import Path

import pytest

from zigral.config import load_settings
from zigral.errors import ConfigError
from zigral.tls import cert_key, ensure_certificate, fingerprint


def test_a_self_signed_certificate_is_made_once_with_a_private_key(tmp_path: Path) -> None:
    settings = load_settings(paths={"state_dir": tmp_path}, web={"public_host": "vm7.example.org"})
    assert ensure_certificate(settings)
    cert, key = cert_key(settings)
    first = cert.read_bytes()
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and key.parent == settings.paths.secrets_dir
    assert not ensure_certificate(settings) and cert.read_bytes() == first
    shown = subprocess.run(
        ["openssl", "x509", "-in", str(cert), "-noout", "-fingerprint", "-sha256", "-ext", "subjectAltName"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert fingerprint(cert) in shown  # what browsers (and openssl) show
    assert "DNS:vm7.example.org" in shown and "IP Address:127.0.0.1" in shown


def test_the_operators_own_certificate_is_used_as_given(tmp_path: Path) -> None:
    mine = load_settings(paths={"state_dir": tmp_path / "a"}, web={"public_host": "h.example"})
    ensure_certificate(mine)
    cert, key = cert_key(mine)
    settings = load_settings(paths={"state_dir": tmp_path / "b"}, web={"tls_cert": cert, "tls_key": key})
    assert cert_key(settings) == (cert, key)
    assert not ensure_certificate(settings)
    assert not (tmp_path / "b").exists()  # nothing generated


@pytest.mark.parametrize(
    "web", [{"tls_cert": "/etc/hostname"}, {"tls_cert": "/nope.crt", "tls_key": "/nope.key"}]
)
def test_a_half_or_missing_certificate_setting_is_a_clear_error(web: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match=r"ZIGRAL_WEB__TLS_(CERT|KEY)"):
        ensure_certificate(load_settings(web=web))
