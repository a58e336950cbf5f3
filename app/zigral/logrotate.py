"""The logrotate configuration for the logs nginx and squid write themselves (``python -m zigral.logrotate``).

deploy/install.sh writes it to ``/etc/logrotate.d/zigral``; supervisor rotates every other log itself.
"""

from __future__ import annotations

import sys
from pathlib import Path

from zigral.config import TEMPLATES_DIR, Settings, load_settings
from zigral.render import fill

TEMPLATE = TEMPLATES_DIR / "logrotate" / "zigral.conf.in"


def config(settings: Settings) -> str:
    """The configuration for this stack's log directory; its postrotate has nginx and squid reopen them."""
    p = settings.paths
    return fill(
        TEMPLATE.read_text(),
        {
            "log_dir": str(p.log_dir),
            "supervisor_conf": str(p.supervisor_conf),
            "supervisorctl": str(Path(sys.executable).with_name("supervisorctl")),
        },
    )


if __name__ == "__main__":
    sys.stdout.write(config(load_settings()))
