#!/usr/bin/env python
"""Run the example site against the built-in fake Podio: ``make demo`` calls this.

Starts the fake Podio (seeded with a demo organisation, app and items) in the background,
migrates the demo's SQLite database and runs ``runserver`` in the foreground. Whatever ends
runserver (Ctrl-C, SIGTERM, a crash), the fake is stopped too, so no orphan keeps port 8001.
With ``PODIO_CLIENT_ID`` and ``PODIO_CLIENT_SECRET`` set the site talks to the real Podio and
no fake is started.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "example_project"
DEFAULT_FAKE_URL = "http://127.0.0.1:8001"
# Must match example_project/demo/settings.py (the fake-Podio branch).
DEMO_CLIENT_ID = "demo-client-id"
DEMO_CLIENT_SECRET = "demo-client-secret"  # noqa: S105 - the fake's public demo app


def log(message: str) -> None:
    print(f"[demo] {message}", flush=True)


def port_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def wait_for_port(host: str, port: int, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"[demo] the fake Podio exited early (status {process.returncode})")
        if port_open(host, port):
            return
        time.sleep(0.1)
    raise SystemExit(f"[demo] the fake Podio did not listen on {host}:{port} in {timeout:.0f}s")


def stop(process: subprocess.Popen | None, name: str) -> None:
    """SIGTERM the child's whole process group, then SIGKILL it after a grace period.

    runserver's autoreloader runs the server in a grandchild: signalling only the child
    would leave that grandchild holding port 8000. SIGTERM rather than SIGINT because a
    process started in the background by a shell ignores SIGINT.
    """
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        log(f"{name} did not stop in 10s; killing it")
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        process.wait()


def start_fake(url: str, items: int) -> subprocess.Popen:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    if port_open(host, port):
        raise SystemExit(
            f"[demo] {host}:{port} is already in use (an old demo still running?). "
            "Stop it, or set PODIO_FAKE_URL to another address."
        )
    command = [
        sys.executable,
        "-m",
        "django_podio.testing",
        "--host",
        host,
        "--port",
        str(port),
        "--client-id",
        DEMO_CLIENT_ID,
        "--client-secret",
        DEMO_CLIENT_SECRET,
        "--seed-demo",
        "--items",
        str(items),
        "--authorize-mode",
        "consent",
    ]
    log(f"starting the fake Podio on {url} ({items} demo items)")
    # Own session: the terminal's Ctrl-C reaches only demo.py, which stops the group (stop()).
    process = subprocess.Popen(command, cwd=ROOT, start_new_session=True)  # noqa: S603
    try:
        wait_for_port(host, port, process, timeout=30)
    except BaseException:
        stop(process, "the fake Podio")
        raise
    return process


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def manage(*args: str) -> list[str]:
    return [sys.executable, "manage.py", *args]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--addrport", default="127.0.0.1:8000", help="runserver's address")
    parser.add_argument("--items", type=int, default=300, help="demo items in the fake app")
    parser.add_argument("--noreload", action="store_true", help="runserver without autoreload")
    args = parser.parse_args(argv)

    # Ctrl-C and SIGTERM (a supervisor, `kill`) take the same clean-up path, even when a shell
    # started us in the background with SIGINT ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)

    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "demo.settings"}
    real = bool(os.environ.get("PODIO_CLIENT_ID") and os.environ.get("PODIO_CLIENT_SECRET"))
    fake: subprocess.Popen | None = None
    server: subprocess.Popen | None = None
    try:
        migrate = manage("migrate", "--no-input", "-v", "0")
        subprocess.run(migrate, cwd=SITE, env=env, check=True)  # noqa: S603 - fixed command
        log(f"database migrated: {SITE.name}/db.sqlite3")
        if real:
            log("PODIO_CLIENT_ID is set: talking to the real Podio, no fake started")
        else:
            fake = start_fake(os.environ.get("PODIO_FAKE_URL", DEFAULT_FAKE_URL), args.items)
        runserver = manage("runserver", args.addrport)
        if args.noreload:
            runserver.append("--noreload")
        log(f"Open http://{args.addrport} and click Log in with Podio")
        log("Ctrl-C stops the site and the fake Podio")
        server = subprocess.Popen(runserver, cwd=SITE, env=env, start_new_session=True)  # noqa: S603
        return server.wait()
    except KeyboardInterrupt:
        return 0  # Ctrl-C is how the demo is meant to end
    except subprocess.CalledProcessError as error:
        log(f"{error.cmd[2:]} failed with status {error.returncode}")
        return error.returncode or 1
    finally:
        stop(server, "runserver")
        stop(fake, "the fake Podio")
        if fake is not None:
            log("fake Podio stopped")


if __name__ == "__main__":
    sys.exit(main())
