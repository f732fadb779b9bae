"""A newcomer's host project: ``django-admin startproject`` plus the documented snippets.

Everything a reader would type comes from the docs (``snippets.snippet``); the only edits a
test makes are the ports (the docs say 8001 and 8000; tests take free ones so parallel runs
and a running ``make demo`` do not collide), each replaced where the docs name it.
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
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from .snippets import snippet

BIN = Path(sys.executable).parent
FAKE_PORT = "8001"  # as the docs write it


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def base_env() -> dict[str, str]:
    """The reader's shell: this venv's python/django-admin first; none of the suite's settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PODIO_"))}
    env.pop("FIELD_ENCRYPTION_KEY", None)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def bash(script: str, *, cwd: Path, env: dict[str, str], timeout: float = 120) -> str:
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, f"{script!r} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def exported_env(script: str, *, cwd: Path, env: dict[str, str]) -> dict[str, str]:
    """The environment after the reader pastes ``script`` (``export`` lines) into bash."""
    out = bash(script + "\nenv -0", cwd=cwd, env=env)
    pairs = (entry.split("=", 1) for entry in out.split("\0") if "=" in entry)
    return dict(pairs)


def replace_port(text: str, port: int) -> str:
    assert FAKE_PORT in text, f"the docs no longer say port {FAKE_PORT}:\n{text}"
    return text.replace(FAKE_PORT, str(port))


@dataclass
class HostProject:
    root: Path  # the directory holding manage.py
    env: dict[str, str]
    fake_url: str = ""
    processes: list[subprocess.Popen] = field(default_factory=list)
    banner: str = ""
    logs: list[Path] = field(default_factory=list)  # one per background process

    @property
    def settings_py(self) -> Path:
        return self.root / "mysite" / "settings.py"

    def append_settings(self, text: str) -> None:
        with self.settings_py.open("a", encoding="utf-8") as fh:
            fh.write("\n\n" + text)

    def manage(self, *args: str, stdin: str | None = None, timeout: float = 180) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=self.root,
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert result.returncode == 0, (
            f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
        )
        return result.stdout + result.stderr

    def background(self, command: str, *, ready: str, timeout: float = 60) -> str:
        """Start a shell command (a documented one) and wait for ``ready`` in its output.

        Output goes to a file, not a pipe: a chatty server (runserver logs every request)
        must never block on a pipe nobody reads.
        """
        log = self.root.parent / f"background-{len(self.processes)}.log"
        with log.open("w") as out:
            process = subprocess.Popen(
                ["bash", "-c", f"exec {command}"],
                cwd=self.root,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes.append(process)
        self.logs.append(log)
        deadline = time.monotonic() + timeout
        while ready not in (output := log.read_text()):
            if time.monotonic() > deadline or process.poll() is not None:
                raise AssertionError(f"{command!r} did not print {ready!r}:\n{output}")
            time.sleep(0.1)
        return output

    def wait_for_port(self, port: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for process in self.processes:
                if process.poll() is not None:
                    raise AssertionError(f"{process.args} exited with {process.returncode}")
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    return
            time.sleep(0.2)
        raise AssertionError(f"nothing listens on 127.0.0.1:{port}")

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()


@contextmanager
def host_project(tmp_path: Path, *, start_fake: bool = True) -> Iterator[HostProject]:
    """A fresh ``startproject`` with the quickstart's settings and URLs, pointed at a fake
    Podio started with the quickstart's command (on a free port) when ``start_fake``."""
    env = base_env()
    bash(snippet("quickstart-project"), cwd=tmp_path, env=env)
    root = tmp_path / "mysite"
    assert (root / "manage.py").exists()
    env = exported_env(snippet("quickstart-env"), cwd=root, env=env)
    project = HostProject(root=root, env=env)
    project.append_settings(snippet("quickstart-settings"))
    project.append_settings(snippet("quickstart-sqlite"))
    (root / "mysite" / "urls.py").write_text(snippet("quickstart-urls"), encoding="utf-8")
    try:
        if not start_fake:
            project.append_settings(snippet("quickstart-fake-settings"))
            yield project
            return
        port = free_port()
        banner = project.background(
            replace_port(snippet("quickstart-fake"), port), ready="PODIO_APP_TOKEN="
        )
        project.banner = banner
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", banner)
        assert match, banner
        project.fake_url = match[1]
        project.append_settings(replace_port(snippet("quickstart-fake-settings"), port))
        yield project
    finally:
        project.stop()
