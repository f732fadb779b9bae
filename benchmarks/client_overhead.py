"""What PodioClient costs over a bare requests.Session: N GETs of /item/{id}, same fake, same run.

The two loops alternate in blocks so drift (CPU frequency, the fake's warm-up) hits both alike.
Run: .venv/bin/python benchmarks/client_overhead.py [--requests 2000] [--latency 0.0]
"""

from __future__ import annotations

import argparse

from _common import point_at, setup_django, timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--block", type=int, default=100)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per request")
    args = parser.parse_args()

    setup_django()
    import requests

    from django_podio.api import oauth
    from django_podio.api.client import PodioClient
    from django_podio.conf import AppCredentials
    from django_podio.testing import FakePodio

    with FakePodio() as fake:
        point_at(fake)
        fake.rate_limit_general = fake.rate_limit_login = 10**9
        fake.latency = args.latency
        fake.add_user(mail="bench@example.com", password="pw")
        app = fake.add_app(name="Bench")
        item_ids = fake.add_items(app.app_id, 50)
        token = oauth.password(
            "bench@example.com",
            "pw",
            credentials=AppCredentials(fake.client_id, fake.client_secret),
        )

        client = PodioClient(token.access_token, api_url=fake.url)
        session = requests.Session()
        floor = requests.Session()
        floor.trust_env = False  # no per-request environment scan: the bare floor
        headers = {"Authorization": f"OAuth2 {token.access_token}"}

        def ours(n: int) -> None:
            for i in range(n):
                client.get_item(item_ids[i % len(item_ids)])

        def bare(n: int, s: requests.Session = session) -> None:
            for i in range(n):
                response = s.get(
                    f"{fake.url}/item/{item_ids[i % len(item_ids)]}",
                    params={"mark_as_viewed": "false"},
                    headers=headers,
                    timeout=(5, 30),
                )
                response.raise_for_status()
                response.json()

        ours(50), bare(50), bare(50, floor)  # warm every connection
        t_ours = t_bare = t_floor = 0.0
        done = 0
        while done < args.requests:
            n = min(args.block, args.requests - done)
            t_ours += timed(lambda n=n: ours(n))
            t_bare += timed(lambda n=n: bare(n))
            t_floor += timed(lambda n=n: bare(n, floor))
            done += n
        client.close()
        session.close()
        floor.close()

    per = 1e6 / args.requests
    print(f"requests per side     : {args.requests} (latency {args.latency * 1000:.0f} ms)")
    print(f"PodioClient           : {t_ours:.3f} s  ({t_ours * per:.0f} us/request)")
    print(f"bare requests.Session : {t_bare:.3f} s  ({t_bare * per:.0f} us/request)")
    print(f"bare, trust_env=False : {t_floor:.3f} s  ({t_floor * per:.0f} us/request)")
    print(f"ratio client / bare   : {t_ours / t_bare:.3f}x")
    print(f"ratio client / floor  : {t_ours / t_floor:.3f}x")


if __name__ == "__main__":
    main()
