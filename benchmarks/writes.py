"""Creating items: our client's create_item against a bare requests loop, and lost answers.

The fake Podio runs in its own process (as Podio would: it must not share our GIL), with
30 ms of latency per request. Measured side by side in one run, in alternating blocks so
drift hits both alike:

  (a) ``PodioClient.create_item(app_id, fields, external_id=...)``: Python values encoded
      against the app's cached field definitions, checked, sent once with the exactly-once
      machinery around it
  (b) a bare ``requests.Session`` loop POSTing bodies built beforehand (the floor: no
      encoding, no checks, no error handling)

each at concurrency 1 and 4 (threads, one client or session per thread). Then 1,000 creates
with 20 % of the answers dropped *after* Podio made the item:

  (c) our client with external ids: every item exactly once; the extra requests (look-ups
      by external id, creates sent again) counted
  (d) for contrast, a bare loop that sends a create again when its answer is lost: the
      duplicates it makes

Figures (2026-12-03, the shared 2-core machine, 30 ms): create_item against the bare loop
1.017x at concurrency 1 (34.0 vs 33.5 ms a create) and 1.014x at concurrency 4 (9.3 vs
9.2 ms) with a load average near 2.5; 1.026x and 1.19x in an earlier run with a load
average near 9 (four client threads then compete for the CPU with everything else). Lost
answers: 1,000 items for 1,000 creates, 0 duplicates; 207 of the 1,000 answers dropped,
costing 207 look-ups by external id (no create was sent twice: each lost one was found),
22.6 s instead of about 9.3 s, most of it the pause before each look-up (backoff with
jitter, up to 0.5 s). The bare loop that sends again on a lost answer made 1,237 items.
About 0.2 ms of CPU a create is ours (the definitions from the cache, the checks, the
encoding); the rest of the difference is the client's transport, as for reads
(benchmarks/client_overhead.py).

Run: .venv/bin/python benchmarks/writes.py [--creates 1000] [--latency 0.03] [--block 50]
"""

from __future__ import annotations

import argparse
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

from _common import point_at, setup_django

FIELDS = {
    "title": "Benchmark item",
    "amount": Decimal("1234.50"),
    "status": "Active",
    "progress": 40,
    "location": "Dam 1, Amsterdam",
}


def bare_body(app: dict, n: int) -> dict:
    """What (a) sends, built by hand beforehand: field ids, Podio's write shapes."""
    ids = {f["external_id"]: str(f["field_id"]) for f in app["fields"]}
    return {
        "fields": {
            ids["title"]: f"{FIELDS['title']} {n}",
            ids["amount"]: "1234.50",
            ids["status"]: [2],
            ids["progress"]: 40,
            ids["location"]: {"value": "Dam 1, Amsterdam"},
        },
        "external_id": f"bare-{n}",
    }


def run_parallel(work, numbers: list[int], concurrency: int) -> None:
    if concurrency == 1:
        for n in numbers:
            work(n)
        return
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(work, numbers))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--creates", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.03)
    parser.add_argument("--block", type=int, default=50)
    parser.add_argument("--drop-rate", type=float, default=0.2)
    args = parser.parse_args()

    setup_django()
    import logging

    import requests

    # Each lost answer is a warning line; the summary at the end counts them.
    logging.getLogger("django_podio").setLevel(logging.ERROR)

    from _fakeproc import RemoteFake

    from django_podio.api.client import PodioClient

    with RemoteFake() as fake:
        point_at(fake)
        fake.set("rate_limit_general", 10**9)
        fake.set("rate_limit_limited", 10**9)
        app_id = fake.add_app("Bench")
        token = fake.mint(1, 1001)[0][0]
        fake.set("latency", args.latency)
        local = threading.local()

        def client() -> PodioClient:
            if not hasattr(local, "client"):
                local.client = PodioClient(token, api_url=fake.url)
            return local.client

        def session() -> requests.Session:
            if not hasattr(local, "session"):
                local.session = requests.Session()
                local.session.trust_env = False
                local.session.headers["Authorization"] = f"OAuth2 {token}"
            return local.session

        app = client().get_app(app_id)  # fetched once; every later write reads the cache
        bodies: dict[int, dict] = {}

        def ours(n: int) -> None:
            fields = {**FIELDS, "title": f"{FIELDS['title']} {n}"}
            client().create_item(app_id, fields, external_id=f"ours-{n}")

        def bare(n: int) -> None:
            response = session().post(
                f"{fake.url}/item/app/{app_id}/", json=bodies[n], timeout=(5, 30)
            )
            response.raise_for_status()
            response.json()

        results = {}
        start_n = 0
        for concurrency in (1, 4):
            numbers = list(range(start_n, start_n + args.creates))
            start_n += args.creates
            bodies.update({n: bare_body(app, n) for n in numbers})
            # Warm every connection (and thread) first, untimed.
            run_parallel(ours, [10**7 + n for n in range(concurrency * 2)], concurrency)
            bodies.update({10**7 + n: bare_body(app, 10**7 + n) for n in range(concurrency * 2)})
            run_parallel(bare, [10**7 + n for n in range(concurrency * 2)], concurrency)
            t_ours = t_bare = 0.0
            for at in range(0, args.creates, args.block):
                block = numbers[at : at + args.block]
                started = time.perf_counter()
                run_parallel(ours, block, concurrency)
                t_ours += time.perf_counter() - started
                started = time.perf_counter()
                run_parallel(bare, block, concurrency)
                t_bare += time.perf_counter() - started
            results[concurrency] = (t_ours, t_bare)

        # (c) lost answers, our client with external ids -------------------------------
        drop_app = fake.add_app("Dropped")
        client().get_app(drop_app)
        fake.reset_log()
        fake.set_fault_rate(args.drop_rate, ["drop_after"], [f"/item/app/{drop_app}"], ["POST"])

        def ours_dropped(n: int) -> None:
            client().create_item(drop_app, {"title": f"Dropped {n}"}, external_id=f"drop-{n}")

        started = time.perf_counter()
        run_parallel(ours_dropped, list(range(args.creates)), 4)
        t_dropped = time.perf_counter() - started
        log = fake.requests()
        items = fake.items(drop_app)

        # (d) a bare loop that sends a create again when the answer is lost -------------
        naive_app = fake.add_app("Naive")
        fake.set_fault_rate(args.drop_rate, ["drop_after"], [f"/item/app/{naive_app}"], ["POST"])
        naive_ids = {
            f["external_id"]: str(f["field_id"]) for f in client().get_app(naive_app)["fields"]
        }

        def naive(n: int) -> None:
            body = {"fields": {naive_ids["title"]: f"Naive {n}"}, "external_id": f"naive-{n}"}
            for _ in range(10):
                try:
                    session().post(f"{fake.url}/item/app/{naive_app}/", json=body, timeout=(5, 30))
                    return
                except requests.ConnectionError:
                    continue

        run_parallel(naive, list(range(args.creates)), 4)
        fake.set_fault_rate(0, [], None, None)
        naive_items = fake.items(naive_app)

    print(f"creates per side : {args.creates} (latency {args.latency * 1000:.0f} ms)")
    for concurrency, (t_ours, t_bare) in results.items():
        per = 1000 / args.creates
        print(
            f"concurrency {concurrency}    : create_item {t_ours:6.2f} s "
            f"({t_ours * per:5.1f} ms each)  bare {t_bare:6.2f} s ({t_bare * per:5.1f} ms each)"
            f"  ratio {t_ours / t_bare:.3f}x"
        )
    creates = [r for r in log if r[0] == "POST" and r[1].rstrip("/") == f"/item/app/{drop_app}"]
    lookups = [r for r in log if r[0] == "GET" and "/external_id/" in r[1]]
    statuses = Counter(status for *_, status in creates)
    per_external_id = Counter(ext for _, ext in items)
    print(f"\nlost answers ({args.drop_rate:.0%} dropped after processing, concurrency 4):")
    print(f"  create_item with external ids: {t_dropped:.2f} s")
    print(
        f"  items in Podio: {len(items)}  distinct external ids: {len(per_external_id)}  "
        f"duplicates: {sum(c - 1 for c in per_external_id.values())}"
    )
    print(
        f"  requests: {len(creates)} creates ({statuses[0]} answers dropped), "
        f"{len(lookups)} look-ups by external id: "
        f"{len(creates) + len(lookups) - args.creates} extra for {args.creates} items"
    )
    naive_count = Counter(ext for _, ext in naive_items)
    print(
        f"  a bare loop sending again on a lost answer: {len(naive_items)} items, "
        f"{sum(c - 1 for c in naive_count.values())} duplicates"
    )


if __name__ == "__main__":
    main()
