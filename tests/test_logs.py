from __future__ import annotations

import json
import subprocess
import sys

CRASH = """
import threading
from zigral.logs import setup_json_logging
setup_json_logging()
t = threading.Thread(target=lambda: 1 / 0, name="browser")
t.start()
t.join()
raise RuntimeError("the agent fell over")
"""


def test_a_crash_on_any_thread_is_logged_as_json_lines_not_a_bare_traceback() -> None:
    done = subprocess.run([sys.executable, "-c", CRASH], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and done.stderr == ""
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(e["level"], e["msg"]) for e in lines] == [
        ("critical", "uncaught ZeroDivisionError in thread browser: division by zero"),
        ("critical", "uncaught RuntimeError: the agent fell over"),
    ]
    assert "Traceback" in lines[1]["exc"]
