"""Fetching every item of an app: our iter_items against what people write today.

Same fake Podio (30 ms latency per request by default), same items, one run, side by side:

  (a) PodioClient.iter_items, sequential
  (b) PodioClient.iter_items(concurrency=4)
  (c) the loop a user writes today with podio-python from PyPI (no paging helper: POST the
      filter with Podio's default page size of 30); without podio-python, the same loop on
      plain ``requests`` calls
  (d) a bare requests.Session loop at limit 500: the sequential floor
  (e) the JSON lines export service (``podio_fetch_items --output``, concurrency 4)

The fake renders each filter page once and serves its bytes until the app's items change, and
each variant runs once untimed first (``--cold`` skips that), so the figures measure the
clients, not the fake rendering 500 items a page. Every variant writes each item as a JSON
line (to /dev/null, (e) to a temporary file) and runs in its own process, so peak memory is its
own; the fake runs in this process and counts the filter requests. Run:

  .venv/bin/python benchmarks/items.py [--items 20000 100000] [--latency 0.03]
      [--podio-python /tmp/venv-podiopy/bin/python] [--fields light] [--cold]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

from _common import ROOT, point_at, setup_django

# An interpreter with podio-python installed (kept out of the project venv).
PODIO_PYTHON = os.environ.get("PODIO_PYTHON", "/tmp/venv-podiopy/bin/python")  # noqa: S108

VARIANTS = {
    "a": "(a) iter_items sequential",
    "b": "(b) iter_items concurrency=4",
    "c": "(c) podio-python loop, limit 30",
    "d": "(d) bare requests.Session, limit 500",
    "e": "(e) JSON lines export, concurrency=4",
}


def memory_kb(field: str) -> int:
    """``VmRSS`` (now) or ``VmHWM`` (peak) of this process, in kB.

    Not ``getrusage``: its ``ru_maxrss`` survives ``exec``, so a child would report the
    parent's peak (the parent holds the fake's items).
    """
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def reset_peak() -> None:
    """Start the peak (VmHWM) from the current RSS, so imports do not count (Linux >= 4.0)."""
    with open("/proc/self/clear_refs", "w", encoding="ascii") as refs:
        refs.write("5")


# Children: one variant each -------------------------------------------------------------


def child(variant: str, url: str, app_id: int, token: str) -> dict:
    sink = open(os.devnull, "w")  # noqa: SIM115 - closed below
    seen: set[int] = set()
    count = 0

    def write(item: dict) -> None:
        nonlocal count
        sink.write(json.dumps(item, ensure_ascii=False, separators=(",", ":")) + "\n")
        seen.add(item["item_id"])
        count += 1

    if variant in ("a", "b", "e"):
        setup_django()
        from django.conf import settings

        settings.PODIO = {**settings.PODIO, "API_URL": url}
        from django_podio import items
        from django_podio.api.client import PodioClient

        client = PodioClient(token, api_url=url)
    elif variant == "c":
        try:
            from podio.client import Client  # podio-python
        except ImportError:
            Client = None
        import requests
    else:
        import requests

    reset_peak()
    base = memory_kb("VmRSS")
    start = time.perf_counter()
    if variant in ("a", "b"):
        for item in client.iter_items(app_id, concurrency=1 if variant == "a" else 4):
            write(item)
    elif variant == "e":
        import tempfile

        with tempfile.TemporaryDirectory() as directory:
            target = Path(directory) / "items.jsonl"
            report = items.fetch_items(client, app_id, output=target, concurrency=4)
            assert report.ok, report.error
            with target.open(encoding="utf-8") as handle:
                for line in handle:
                    seen.add(json.loads(line)["item_id"])
                    count += 1
    elif variant == "c":
        # What the README of podio-python leaves a user to write: no paging, no retries.
        offset = 0
        if Client is not None:
            Client.URL = url + "/"
            podio = Client(access_token=token)

            def page(offset: int) -> dict:
                body = json.dumps({"limit": 30, "offset": offset})
                return podio.post(f"item/app/{app_id}/filter/", data=body)
        else:
            headers = {"Authorization": f"OAuth2 {token}"}

            def page(offset: int) -> dict:
                response = requests.post(
                    f"{url}/item/app/{app_id}/filter/",
                    json={"limit": 30, "offset": offset},
                    headers=headers,
                    timeout=30,
                )
                return response.json()

        while True:
            data = page(offset)
            for item in data["items"]:
                write(item)
            offset += len(data["items"])
            if not data["items"] or offset >= data["filtered"]:
                break
    else:
        session = requests.Session()
        headers = {"Authorization": f"OAuth2 {token}"}
        offset = 0
        while True:
            response = session.post(
                f"{url}/item/app/{app_id}/filter/",
                json={"limit": 500, "offset": offset, "sort_by": "item_id", "sort_desc": False},
                headers=headers,
                timeout=(5, 30),
            )
            response.raise_for_status()
            data = response.json()
            for item in data["items"]:
                write(item)
            offset += len(data["items"])
            if not data["items"] or offset >= data["filtered"]:
                break
    elapsed = time.perf_counter() - start
    sink.close()
    return {
        "items": count,
        "distinct": len(seen),
        "elapsed": elapsed,
        "rss_base_kb": base,
        "rss_peak_kb": memory_kb("VmHWM"),
        "podio_python": variant != "c" or Client is not None,
    }


# Parent: the fake and the table ---------------------------------------------------------


def run_child(python: str, variant: str, url: str, app_id: int, token: str) -> dict:
    env = {**os.environ, "BENCH_TOKEN": token}
    command = [python, __file__, "--child", variant, "--url", url, "--app", str(app_id)]
    result = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"variant {variant} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, nargs="+", default=[20000, 100000])
    parser.add_argument("--latency", type=float, default=0.03, help="seconds per request")
    parser.add_argument("--variants", default="abcde")
    parser.add_argument(
        "--fields",
        choices=["full", "light"],
        default="full",
        help="full: the fake's 12 field types (~9 kB items); light: title, amount, status",
    )
    parser.add_argument("--podio-python", default=PODIO_PYTHON)
    parser.add_argument(
        "--cold", action="store_true", help="time each variant's first run (pages not cached)"
    )
    parser.add_argument("--child")
    parser.add_argument("--url")
    parser.add_argument("--app", type=int)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.url, args.app, os.environ["BENCH_TOKEN"])))
        return

    setup_django()
    from django_podio.testing import FakePodio
    from django_podio.testing.seed import default_fields

    podio_python = args.podio_python if Path(args.podio_python).exists() else sys.executable
    if podio_python != sys.executable:
        loop = f"podio-python {_version(podio_python)}"
    else:
        loop = "plain requests (podio-python is not installed)"
    print(
        f"latency {args.latency * 1000:.0f} ms per request; {os.cpu_count()} CPUs; (c) uses {loop}"
    )
    print("peak = growth of the variant process's peak RSS while fetching (after imports)")
    rows = []
    for n in args.items:
        with FakePodio() as fake:
            point_at(fake)
            fake.rate_limit_general = fake.rate_limit_limited = fake.rate_limit_login = 10**9
            fake.add_user(mail="bench@example.com", password="pw")
            # The default field set minus the app reference, whose generator is quadratic.
            fields = [f for f in default_fields(0) if f["type"] != "app"]
            if args.fields == "light":
                fields = [f for f in fields if f["external_id"] in ("title", "amount", "status")]
            app = fake.add_app(name="Bench", fields=fields)
            started = time.perf_counter()
            fake.add_items(app.app_id, n)
            seeded = time.perf_counter() - started
            token = fake._issue(fake.client_id, "app", app.app_id, "global")["access_token"]
            started = time.perf_counter()
            page = fake.filter_items(app.app_id, {"limit": 500, "sort_by": "item_id"})
            page_bytes = len(json.dumps(page, ensure_ascii=False).encode())
            server_ms = (time.perf_counter() - started) * 1000
            print(
                f"\n{n} items, {args.fields} fields (seeded in {seeded:.0f}s); the fake spends "
                f"{server_ms:.0f} ms "
                f"of CPU on a 500-item page of {page_bytes / 1e6:.1f} MB"
            )
            fake.latency = args.latency
            results = {}
            for variant in args.variants:
                python = podio_python if variant == "c" else sys.executable
                if not args.cold:  # the fake renders each page once: time the client only
                    run_child(python, variant, fake.url, app.app_id, token)
                before = len(fake.requests_to(f"/item/app/{app.app_id}/filter"))
                result = run_child(python, variant, fake.url, app.app_id, token)
                after = len(fake.requests_to(f"/item/app/{app.app_id}/filter"))
                result["requests"] = after - before
                results[variant] = result
            floor = results.get("d", {}).get("elapsed")
            print(
                f"{'variant':40} {'requests':>8} {'items':>7} {'distinct':>8} {'wall s':>8} "
                f"{'vs (d)':>7} {'peak MB':>8}"
            )
            for variant, r in results.items():
                ratio = f"{r['elapsed'] / floor:.2f}x" if floor else "-"
                peak = (r["rss_peak_kb"] - r["rss_base_kb"]) / 1024
                print(
                    f"{VARIANTS[variant]:40} {r['requests']:>8} {r['items']:>7} "
                    f"{r['distinct']:>8} {r['elapsed']:>8.2f} {ratio:>7} {peak:>8.1f}"
                )
                rows.append((n, variant, r))
            print(
                f"aim: requests = ceil(N/500) + 1 = {math.ceil(n / 500) + 1}; "
                "(a) <= 1.1x (d); (b) <= 0.35x (d)"
            )
    if len(args.items) > 1:
        print("\npeak MB by N (flat = constant memory):")
        for variant in args.variants:
            cells = [
                f"{n}: {(r['rss_peak_kb'] - r['rss_base_kb']) / 1024:.1f}"
                for n, v, r in rows
                if v == variant
            ]
            print(f"  {VARIANTS[variant]:40} " + "  ".join(cells))


def _version(python: str) -> str:
    result = subprocess.run(
        [python, "-c", "import importlib.metadata as m; print(m.version('podio-python'))"],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() or "?"


if __name__ == "__main__":
    main()
