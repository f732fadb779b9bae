"""``make demo`` (scripts/demo.py) running in the background on free ports, for tests.

Shared by tests/test_demo.py (HTTP checks) and the browser tests: both drive the demo exactly
as a newcomer starts it, and read the addresses and the admin login from what it prints.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest

DEMO_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "demo.py"


def clean_environment() -> dict[str, str]:
    """This environment without what would point the demo elsewhere (pytest's settings, a
    real Podio app)."""
    dropped = ("DJANGO_SETTINGS_MODULE", "PODIO_CLIENT_ID", "PODIO_CLIENT_SECRET", "PODIO_FAKE_URL")
    return {k: v for k, v in os.environ.items() if k not in dropped}


def free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def free_pair() -> int:
    """A free port p with p + 1 free too (the demo's default for the fake)."""
    for _ in range(50):
        port = free_port()
        if port < 65535:
            with closing(socket.socket()) as sock:
                try:
                    sock.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
            return port
    raise RuntimeError("no two consecutive free ports")


class DemoProcess:
    """``scripts/demo.py`` running in the background, as ``make demo`` runs it."""

    def __init__(self, tmp_path: Path) -> None:
        self.port = free_pair()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp_path / "demo.log"
        self.database = str(tmp_path / "demo.sqlite3")
        env = {**clean_environment(), "DEMO_DATABASE": self.database, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            [sys.executable, str(DEMO_SCRIPT), "--port", str(self.port), "--noreload"],
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )

    def output(self) -> str:
        return self.log.read_text()

    def wait_ready(self, timeout: float = 120) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            output = self.output()
            if "Ctrl-C stops" in output:
                return output
            if self.process.poll() is not None:
                pytest.fail(f"the demo exited with {self.process.returncode}:\n{output}")
            time.sleep(0.2)
        pytest.fail(f"the demo was not ready in {timeout:.0f}s:\n{self.output()}")

    def admin_password(self) -> str:
        match = re.search(r"admin\s+\S+/admin/\s+user demo-admin\s+password (\S+)", self.output())
        assert match, self.output()
        return match.group(1)

    def stop(self) -> int:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
        return self.process.wait(timeout=30)


@contextmanager
def running_demo(tmp_path: Path) -> Iterator[DemoProcess]:
    process = DemoProcess(tmp_path)
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()
