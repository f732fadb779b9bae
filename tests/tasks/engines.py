"""Real task workers started and stopped by the tests: django-tasks-db's ``db_worker`` and
Celery (on Redis), as separate processes on the test database and the test's fake Podio."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from tests.databases import child_env

ROOT = Path(__file__).resolve().parents[2]


class Workers:
    """``count`` worker processes of one engine; ``stop()`` (or the ``with`` block) ends them."""

    def __init__(self, engine: str, fake, count: int = 2, *, as_default: bool = False) -> None:
        """``as_default``: the engine is the workers' ``default`` backend (as a host sets it)."""
        self.engine = engine
        self.alias = "default" if as_default else engine
        self.queue = f"django-podio-tests-{uuid.uuid4().hex[:8]}"
        self.env = {
            **os.environ,
            **child_env(fake),
            "PODIO_CELERY_QUEUE": self.queue,
            "PYTHONUNBUFFERED": "1",
        }
        if as_default:
            self.env["PODIO_TEST_TASKS_DEFAULT"] = engine
        self.count = count
        self.procs: list[subprocess.Popen] = []
        self.logs: list[Path] = []

    def command(self, n: int) -> list[str]:
        if self.engine == "db":
            return [
                sys.executable,
                "-m",
                "django",
                "db_worker",
                "--backend",
                self.alias,
                "--interval",
                "0.05",
                "--no-startup-delay",
                "--worker-id",
                f"w{n}-{self.queue[-8:]}",
            ]
        return [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tests.tasks.celery_app",
            "worker",
            "--pool",
            "solo",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel",
            "WARNING",
            "-n",
            f"w{n}-{self.queue}@%h",
        ]

    def start(self, tmp_path: Path) -> Workers:
        if self.engine == "celery":  # the parent sends to the queue these workers consume
            from tests.tasks.celery_app import app

            app.conf.task_default_queue = self.queue
        for n in range(self.count):
            log = tmp_path / f"{self.engine}-worker-{n}.log"
            handle = log.open("w")
            self.logs.append(log)
            self.procs.append(
                subprocess.Popen(
                    self.command(n),
                    cwd=ROOT,
                    env=self.env,
                    stdout=handle,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
            handle.close()
        return self

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def kill(self, n: int) -> None:
        """SIGKILL worker ``n`` (and its children): no clean-up of any kind."""
        os.killpg(self.procs[n].pid, signal.SIGKILL)
        self.procs[n].wait(timeout=10)

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for proc in self.procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)

    def output(self) -> str:
        return "\n".join(f"--- {log.name}\n{log.read_text()[-3000:]}" for log in self.logs)

    def alive(self) -> list[bool]:
        return [proc.poll() is None for proc in self.procs]


def wait_for(condition: Callable[[], bool], timeout: float, workers: Workers | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    detail = workers.output() if workers else ""
    raise AssertionError(f"condition not met within {timeout}s\n{detail}")
