#!/usr/bin/env python
"""Run the example site against the built-in fake Podio: ``make demo`` calls this.

Checks first that the site's port and the fake's port are free (a clear message and exit
status 1 otherwise, before anything else happens), migrates the demo's SQLite database, gives
the demo admin user a fresh password, starts the fake Podio (seeded with a demo organisation,
app and items) in the background and runs ``runserver`` in the foreground. Once the site
answers, what the kept database holds from the previous run's fake (hooks, cached items, the
app's tokens) is re-synced with this fresh one (``demo_resync``); then the addresses and the
admin login are printed. Whatever ends runserver (Ctrl-C, SIGTERM,
a crash), the fake is stopped too, so no orphan keeps its port.
With ``PODIO_CLIENT_ID`` and ``PODIO_CLIENT_SECRET`` set the site talks to the real Podio and
no fake is started.
"""

from __future__ import annotations

import argparse
import errno
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "example_project"
DEFAULT_PORT = 8000
# Must match example_project/demo/settings.py (the fake-Podio branch).
DEMO_CLIENT_ID = "demo-client-id"
DEMO_CLIENT_SECRET = "demo-client-secret"  # noqa: S105 - the fake's public demo app
DEMO_PODIO_USER = "demo@example.com"
# Must match example_project/demo/management/commands/demo_admin.py.
ADMIN_USERNAME = "demo-admin"


def log(message: str) -> None:
    print(f"[demo] {message}", flush=True)


class PortInUse(Exception):
    pass


def check_port_free(host: str, port: int, what: str) -> None:
    """Bind the port as the server will (address reuse on, as runserver does) and let go.

    Binding rather than connecting also catches a server listening on another address of the
    same port (0.0.0.0), which would make ours fail later.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as error:
            reason = "already in use" if error.errno == errno.EADDRINUSE else error.strerror
            raise PortInUse(f"{host}:{port} ({what}) is {reason}") from None


def free_ports_hint(host: str, taken: int) -> str:
    """Name a pair of ports that are free right now, so the next try just works."""
    for port in range(taken + 2, min(taken + 200, 65534), 2):
        try:
            check_port_free(host, port, "")
            check_port_free(host, port + 1, "")
        except PortInUse:
            continue
        return f"Stop whatever holds it, or use other ports: make demo PORT={port}"
    return "Stop whatever holds it, or use other ports: make demo PORT=... FAKE_PORT=..."


def port_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def wait_for_port(
    host: str, port: int, process: subprocess.Popen, name: str, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"[demo] {name} exited early (status {process.returncode})")
        if port_open(host, port):
            return
        time.sleep(0.1)
    raise SystemExit(f"[demo] {name} did not listen on {host}:{port} in {timeout:.0f}s")


def stop(process: subprocess.Popen | None, name: str) -> None:
    """SIGTERM the child's whole process group, then SIGKILL it after a grace period.

    runserver's autoreloader runs the server in a grandchild: signalling only the child
    would leave that grandchild holding the port. SIGTERM rather than SIGINT because a
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


APP_LINE = re.compile(r"\bapp (\d+) .*PODIO_APP_TOKEN=(\S+)")


class FakeBanner:
    """Echo the fake's output to ours, and keep the apps (id, app token) its banner lists:
    the site re-syncs with them once it runs (``demo_resync``)."""

    def __init__(self, stream: IO[str]) -> None:
        self.apps: dict[str, str] = {}
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.thread.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            sys.stdout.write(line)
            sys.stdout.flush()
            match = APP_LINE.search(line)
            if match:
                self.apps[match.group(1)] = match.group(2)
            elif self.apps and not line.strip():
                self.done.set()
        self.done.set()

    def wait(self, timeout: float) -> dict[str, str]:
        self.done.wait(timeout)
        return dict(self.apps)


def start_fake(host: str, port: int, items: int) -> tuple[subprocess.Popen, FakeBanner]:
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
    log(f"starting the fake Podio on http://{host}:{port} ({items} demo items)")
    # Own session: the terminal's Ctrl-C reaches only demo.py, which stops the group (stop()).
    process = subprocess.Popen(  # noqa: S603
        command,
        cwd=ROOT,
        start_new_session=True,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    banner = FakeBanner(process.stdout)
    try:
        wait_for_port(host, port, process, "the fake Podio", timeout=30)
    except BaseException:
        stop(process, "the fake Podio")
        raise
    return process, banner


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def manage(*args: str) -> list[str]:
    return [sys.executable, "manage.py", *args]


def port_number(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"not a port number (1-65535): {port}")
    return port


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address of the site and the fake")
    parser.add_argument(
        "--port", type=port_number, default=DEFAULT_PORT, help="the site's port (make demo PORT=)"
    )
    parser.add_argument(
        "--fake-port",
        type=port_number,
        default=None,
        help="the fake Podio's port (make demo FAKE_PORT=); default: the site's port + 1",
    )
    parser.add_argument("--items", type=int, default=300, help="demo items in the fake app")
    parser.add_argument("--noreload", action="store_true", help="runserver without autoreload")
    parser.add_argument(
        "--check-ports",
        action="store_true",
        help="only check that the ports are free (make demo runs this before building .venv)",
    )
    args = parser.parse_args(argv)
    if args.fake_port is None:
        if args.port == 65535:
            parser.error("--port 65535 leaves no port for the fake Podio: set --fake-port")
        args.fake_port = args.port + 1
    if args.fake_port == args.port:
        parser.error(f"the site and the fake Podio cannot share port {args.port}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    real = bool(os.environ.get("PODIO_CLIENT_ID") and os.environ.get("PODIO_CLIENT_SECRET"))
    site_url = f"http://{args.host}:{args.port}"
    fake_url = f"http://{args.host}:{args.fake_port}"

    # Before anything else: a taken port is the most common way a second demo fails.
    try:
        check_port_free(args.host, args.port, "the demo site")
        if not real:
            check_port_free(args.host, args.fake_port, "the fake Podio")
    except PortInUse as error:
        print(f"[demo] cannot start: {error}.", file=sys.stderr)
        print(f"[demo] {free_ports_hint(args.host, args.port)}", file=sys.stderr, flush=True)
        return 1
    if args.check_ports:
        return 0

    # Ctrl-C and SIGTERM (a supervisor, `kill`) take the same clean-up path, even when a shell
    # started us in the background with SIGINT ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "demo.settings",
        "PODIO_FAKE_URL": fake_url,
        "DEMO_SITE_URL": site_url,
    }
    admin_password = secrets.token_urlsafe(12)
    fake: subprocess.Popen | None = None
    banner: FakeBanner | None = None
    server: subprocess.Popen | None = None
    try:
        migrate = manage("migrate", "--no-input", "-v", "0")
        subprocess.run(migrate, cwd=SITE, env=env, check=True)  # noqa: S603 - fixed command
        log(f"database migrated: {os.environ.get('DEMO_DATABASE') or SITE.name + '/db.sqlite3'}")
        # The password travels in the environment, not argv (which `ps` shows to everyone).
        admin_env = {**env, "DEMO_ADMIN_PASSWORD": admin_password}
        subprocess.run(manage("demo_admin"), cwd=SITE, env=admin_env, check=True)  # noqa: S603
        if real:
            log("PODIO_CLIENT_ID is set: talking to the real Podio, no fake started")
        else:
            fake, banner = start_fake(args.host, args.fake_port, args.items)
        runserver = manage("runserver", f"{args.host}:{args.port}")
        if args.noreload:
            runserver.append("--noreload")
        server = subprocess.Popen(runserver, cwd=SITE, env=env, start_new_session=True)  # noqa: S603
        wait_for_port(args.host, args.port, server, "runserver", timeout=120)
        if banner is not None:
            # This fake is a fresh one: bring what the database kept from the previous run's
            # fake (hooks, cached items, the app's tokens) in line with it. After runserver
            # answers, because the fake verifies new hooks by calling the site.
            apps = ",".join(f"{app}={token}" for app, token in banner.wait(10).items())
            resync_env = {**env, "DEMO_FAKE_APPS": apps}
            subprocess.run(manage("demo_resync"), cwd=SITE, env=resync_env, check=True)  # noqa: S603
        log("ready:")
        log(f"  site        {site_url}/  (click Log in with Podio)")
        log(f"  admin       {site_url}/admin/  user {ADMIN_USERNAME}  password {admin_password}")
        if not real:
            log(f"  fake Podio  {fake_url}  (signed in there as {DEMO_PODIO_USER})")
        log("Ctrl-C stops the site and the fake Podio")
        return server.wait()
    except KeyboardInterrupt:
        return 0  # Ctrl-C is how the demo is meant to end
    except subprocess.CalledProcessError as error:
        log(f"{' '.join(error.cmd[2:])} failed with status {error.returncode}")
        return error.returncode or 1
    finally:
        stop(server, "runserver")
        stop(fake, "the fake Podio")
        if fake is not None:
            log("fake Podio stopped")


if __name__ == "__main__":
    sys.exit(main())
