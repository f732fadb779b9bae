"""What recording the rate limit (django_podio.api.limits) costs a Podio call: GETs of /item/{id}.

Three variants of the same client loop, alternating in blocks so drift hits them alike:
"as shipped" (a cache write at most every RECORD_INTERVAL seconds per process), "off" (no
recording at all) and "every request" (a cache write per answer, RECORD_INTERVAL = 0).
Django's ``default`` cache is LocMemCache, or Redis with ``--redis URL``.

Measured on the 2-core CI box (shared with other jobs, so loop ratios carry a few percent of
noise), 2,000 requests per variant against the fake: the record call costs 0.3-0.4 us when it
does not write, a write 12 us with LocMemCache and about 500 us with Redis on localhost; the
loop with a write per request ran 1.07x (LocMemCache) and 1.58x (Redis) the loop without
recording, the shipped one 1.04-1.06x with no write at all in its blocks (noise: its extra work
is the 0.4 us check). Hence one write per process per RECORD_INTERVAL, not one per request.

Run: .venv/bin/python benchmarks/rate_limit_record.py [--requests 3000] [--redis redis://127.0.0.1:6379/15]
"""

from __future__ import annotations

import argparse

from _common import point_at, setup_django, timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--block", type=int, default=100)
    parser.add_argument("--redis", default="", help="a Redis URL for Django's default cache")
    args = parser.parse_args()

    setup_django()
    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache

    from django_podio.api import limits, oauth
    from django_podio.api.client import PodioClient
    from django_podio.conf import AppCredentials
    from django_podio.testing import FakePodio

    # The cache the records go to: Django's default (LocMemCache here), or a Redis one.
    cache = RedisCache(args.redis, {}) if args.redis else caches["default"]
    limits._cache = lambda: cache  # type: ignore[assignment]
    shipped = limits.record
    interval = limits.RECORD_INTERVAL

    def off(*_args: object, **_kwargs: object) -> None:
        return None

    writes = {"n": 0}
    real_set_many = cache.set_many

    def counting_set_many(*a: object, **k: object) -> object:
        writes["n"] += 1
        return real_set_many(*a, **k)  # type: ignore[arg-type]

    cache.set_many = counting_set_many  # type: ignore[method-assign]

    with FakePodio() as fake:
        point_at(fake)
        fake.rate_limit_general = fake.rate_limit_login = 10**9
        fake.add_user(mail="bench@example.com", password="pw")
        app = fake.add_app(name="Bench")
        item_ids = fake.add_items(app.app_id, 50)
        token = oauth.password(
            "bench@example.com",
            "pw",
            credentials=AppCredentials(fake.client_id, fake.client_secret),
        )
        client = PodioClient(token.access_token, api_url=fake.url)

        def loop(n: int) -> None:
            for i in range(n):
                client.get_item(item_ids[i % len(item_ids)])

        def variant(name: str) -> None:
            limits.record = off if name == "off" else shipped  # type: ignore[assignment]
            limits.RECORD_INTERVAL = 0.0 if name == "every" else interval

        loop(100)  # warm the connection
        totals = {"shipped": 0.0, "off": 0.0, "every": 0.0}
        counted = {"shipped": 0, "off": 0, "every": 0}
        done = 0
        while done < args.requests:
            n = min(args.block, args.requests - done)
            for name in totals:
                variant(name)
                before = writes["n"]
                totals[name] += timed(lambda n=n: loop(n))
                counted[name] += writes["n"] - before
            done += n
        variant("shipped")
        client.close()

    # The record call alone, without the HTTP around it: the throttled path and a write.
    calls = 20000
    limits.forget()
    shipped(10**9, 10**9 - 1)
    throttled = timed(lambda: [shipped(10**9, 10**9 - 2) for _ in range(calls)])
    limits.RECORD_INTERVAL = 0.0
    written = timed(lambda: [shipped(10**9, 10**9 - 2) for _ in range(calls)])
    limits.RECORD_INTERVAL = interval

    per = 1e6 / args.requests
    backend = "Redis" if args.redis else "LocMemCache"
    print(f"requests per variant : {args.requests} (cache: {backend})")
    for name, label in (("off", "off"), ("shipped", "as shipped"), ("every", "every request")):
        print(
            f"{label:<14}: {totals[name]:.3f} s ({totals[name] * per:.0f} us/request, "
            f"{counted[name]} cache writes)"
        )
    print(f"as shipped / off     : {totals['shipped'] / totals['off']:.3f}x")
    print(f"every request / off  : {totals['every'] / totals['off']:.3f}x")
    print(f"record(), no write   : {throttled / calls * 1e6:.2f} us/call")
    print(f"record(), a write    : {written / calls * 1e6:.2f} us/call")


if __name__ == "__main__":
    main()
