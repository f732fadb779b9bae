"""Run the fake Podio in the foreground: ``python -m django_podio.testing --seed-demo``.

Used by ``make demo``. Prints only the address: tokens, codes and secrets never reach the
terminal, because terminals end up in screenshots and CI logs.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from .server import FakePodio


def _stop_on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m django_podio.testing", description="A local fake of the Podio API."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument(
        "--client-id", default=os.environ.get("FAKE_PODIO_CLIENT_ID", "test-client-id")
    )
    parser.add_argument(
        "--client-secret",
        default=os.environ.get("FAKE_PODIO_CLIENT_SECRET", "test-client-secret"),
    )
    parser.add_argument("--seed-demo", action="store_true", help="create the demo workspace")
    parser.add_argument("--items", type=int, default=300, help="items in the demo app")
    parser.add_argument("--authorize-mode", choices=["auto", "deny", "consent"], default="auto")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added per request")
    parser.add_argument("--seed", type=int, default=0, help="seed for generated data")
    args = parser.parse_args(argv)

    fake = FakePodio(
        client_id=args.client_id,
        client_secret=args.client_secret,
        host=args.host,
        port=args.port,
        seed=args.seed,
    )
    fake.authorize_mode = args.authorize_mode
    fake.latency = args.latency
    summary = ""
    if args.seed_demo:
        demo = fake.seed_demo(items=args.items)
        summary = f"; demo login {demo['user'].mail}, app {demo['app_id']} with {args.items} items"
    try:
        fake.start()
    except OSError as error:
        print(f"fake Podio: cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 1
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    print(
        f"Fake Podio listening on {fake.url} (authorize mode {args.authorize_mode}{summary})",
        flush=True,
    )
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
