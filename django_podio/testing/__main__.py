"""Run the fake Podio in the foreground: ``python -m django_podio.testing --seed-demo``.

Used by ``make demo`` and by the quickstart. On start it prints what a developer needs to point
a project at it: the three ``PODIO`` URLs, the client id and secret it accepts, and the app
token of each app it seeded. They are the fake's own throwaway test credentials, valid only
against this process; the tokens it issues later (access and refresh tokens, codes) are never
printed.

While it runs, it does what a person does on Podio's pages, to rehearse the rotation runbooks
(docs/rotation.rst) without restarting it (a restart forgets every token it issued):
``POST /_fake/client-secret`` issues a new client secret, ``POST /_fake/app/<app_id>/app-token``
a new app token; the answer carries it and this process prints it, as the banner did the
first ones.
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


def describe(fake: FakePodio, *, demo: dict | None = None) -> str:
    """The start-up banner: how to configure a Django project for this fake."""
    lines = [
        f"Fake Podio listening on {fake.url} (authorize mode {fake.authorize_mode})",
        "",
        "Point your project at it in settings.py:",
        "    PODIO = {",
        f'        "API_URL": "{fake.url}",',
        f'        "AUTHORIZE_URL": "{fake.authorize_url}",',
        f'        "TOKEN_URL": "{fake.token_url}",',
        "    }",
        "",
        "It accepts this Podio API key (SOCIALACCOUNT_PROVIDERS['podio']['APP']):",
        f"    PODIO_CLIENT_ID={fake.client_id}",
        f"    PODIO_CLIENT_SECRET={fake.client_secret}",
    ]
    if demo is not None:
        user = demo["user"]
        lines += [
            "",
            f"Logged in at its authorize page as {user.mail} (password {user.password}).",
        ]
    apps = sorted(fake.apps.values(), key=lambda app: app.app_id)
    if apps:
        lines += ["", "Apps (for podio_app_auth APP_ID with PODIO_APP_TOKEN):"]
        for app in apps:
            lines.append(
                f"    app {app.app_id} {app.name!r}, {len(app.items)} items: "
                f"PODIO_APP_TOKEN={app.app_token}"
            )
    lines += [
        "",
        f"New client secret while running: POST {fake.url}/_fake/client-secret",
        f"New app token: POST {fake.url}/_fake/app/APP_ID/app-token",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m django_podio.testing", description="A local fake of the Podio API."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8001, help="port to listen on (0: any)")
    parser.add_argument(
        "--client-id",
        default=os.environ.get("FAKE_PODIO_CLIENT_ID", "test-client-id"),
        help="client id the fake accepts (default $FAKE_PODIO_CLIENT_ID or test-client-id)",
    )
    parser.add_argument(
        "--client-secret",
        default=os.environ.get("FAKE_PODIO_CLIENT_SECRET", "test-client-secret"),
        help="client secret the fake accepts "
        "(default $FAKE_PODIO_CLIENT_SECRET or test-client-secret)",
    )
    parser.add_argument("--seed-demo", action="store_true", help="create the demo workspace")
    parser.add_argument("--items", type=int, default=300, help="items in the demo app")
    parser.add_argument(
        "--authorize-mode",
        choices=["auto", "deny", "consent"],
        default="auto",
        help="auto: approve at once; deny: refuse; consent: show an Allow/Deny page",
    )
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
    demo = fake.seed_demo(items=args.items) if args.seed_demo else None
    try:
        fake.start()
    except OSError as error:
        print(f"fake Podio: cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 1
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    fake.on_announce = lambda line: print(line, flush=True)
    print(describe(fake, demo=demo), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
