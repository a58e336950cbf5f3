"""The web port's certificate: the operator's own (``ZIGRAL_WEB__TLS_CERT``/``TLS_KEY``) or a self-signed one
made once by ``zigral up``, whose SHA-256 fingerprint is printed with the URL so that the operator can check
what the browser shows before typing a password.

The generated key stays in the 0700 secrets folder (0600, read by nginx's master as root); the certificate
is public and sits beside the state. The key is made by ``openssl`` and never leaves the machine.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import os
import socket
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

from zigral.config import Settings
from zigral.errors import ConfigError, StackError

_PEM = "CERTIFICATE"


def cert_key(settings: Settings) -> tuple[Path, Path]:
    """The certificate and key nginx uses: the operator's, when given, else the generated pair."""
    w, p = settings.web, settings.paths
    if (w.tls_cert is None) != (w.tls_key is None):
        raise ConfigError("set both ZIGRAL_WEB__TLS_CERT and ZIGRAL_WEB__TLS_KEY, or neither")
    if w.tls_cert is not None and w.tls_key is not None:
        return w.tls_cert, w.tls_key
    return p.state_dir / "web-tls.crt", p.secrets_dir / "web-tls.key"


def _names(settings: Settings) -> list[str]:
    """The names an operator may open: the public URL's host, this machine's name, loopback."""
    names = {urlsplit(settings.web.public_url).hostname or "", socket.gethostname(), "localhost", "127.0.0.1"}
    out = []
    for name in sorted(names - {""}):
        try:
            out.append(f"IP:{ipaddress.ip_address(name)}")
        except ValueError:
            out.append(f"DNS:{name}")
    return out


def ensure_certificate(settings: Settings) -> bool:
    """Make the self-signed pair once (unless the operator gave one); True when it was made.

    An operator's pair must exist and be readable: a typo is a clear error here, not a dead nginx.
    """
    cert, key = cert_key(settings)
    if settings.web.tls_cert is not None:
        for what, path in (("ZIGRAL_WEB__TLS_CERT", cert), ("ZIGRAL_WEB__TLS_KEY", key)):
            if not path.is_file():
                raise ConfigError(f"{what}={str(path)!r}: no such file")
        fingerprint(cert)  # a certificate, not something else
        return False
    if cert.exists() and key.exists():
        return False
    key.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp_key = key.with_name(key.name + ".tmp")
    tmp_key.unlink(missing_ok=True)
    os.close(os.open(tmp_key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))  # 0600 before a byte is in it
    host = urlsplit(settings.web.public_url).hostname or socket.gethostname()
    argv = ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
    argv += ["-nodes", "-keyout", str(tmp_key), "-out", str(cert), "-days", "825", "-subj", f"/CN={host}"]
    argv += ["-addext", "subjectAltName=" + ",".join(_names(settings))]
    try:
        subprocess.run(argv, capture_output=True, check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        tmp_key.unlink(missing_ok=True)
        raise StackError(f"openssl could not make the web certificate: {exc}") from None
    os.chmod(tmp_key, 0o600)
    os.replace(tmp_key, key)
    os.chmod(cert, 0o644)
    return True


def fingerprint(cert: Path) -> str:
    """SHA-256 of the certificate (DER), as browsers show it: ``AB:CD:...``."""
    try:
        text = cert.read_text()
        body = text.split(f"-----BEGIN {_PEM}-----", 1)[1].split(f"-----END {_PEM}-----", 1)[0]
        der = base64.b64decode("".join(body.split()))
    except (OSError, IndexError, ValueError) as exc:
        raise ConfigError(f"{cert} is not a PEM certificate ({exc})") from None
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))
