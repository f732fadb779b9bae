"""The fake Podio in its own process, as the real Podio would be: it must not share our GIL.

The parent drives it over a pipe (mint tokens, set knobs); everything else is HTTP.
"""

from __future__ import annotations

import multiprocessing
from typing import Any


def _serve(conn: Any) -> None:
    from django_podio.testing import FakePodio

    fake = FakePodio().start()
    conn.send((fake.url, fake.client_id, fake.client_secret))
    while True:
        method, args = conn.recv()
        try:
            if method == "stop":
                fake.stop()
                conn.send((True, None))
                return
            if method == "set":
                setattr(fake, *args)
                result = None
            elif method == "mint":
                count, first_id = args
                result = []
                for i in range(count):
                    token = fake._issue(fake.client_id, "user", first_id + i, "global:all")
                    result.append((token["access_token"], token["refresh_token"]))
            elif method == "count_refresh_grants":
                result = fake.refresh_grants_used
            elif method == "add_app":
                result = fake.add_app(name=args[0]).app_id
            elif method == "fault_rate":
                fake.set_fault_rate(*args)
                result = None
            elif method == "requests":  # (method, path, status) of every request so far
                result = [(r.method, r.path, r.status) for r in fake.requests]
            elif method == "reset_log":
                fake.reset_log()
                result = None
            elif method == "items":  # (item_id, external_id) of an app's items
                result = [(i.item_id, i.external_id) for i in fake.apps[args[0]].items.values()]
            else:
                raise ValueError(method)
            conn.send((True, result))
        except Exception as error:  # reported to the parent
            conn.send((False, repr(error)))


class RemoteFake:
    def __init__(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child,), daemon=True)
        self._proc.start()
        self.url, self.client_id, self.client_secret = self._conn.recv()
        self.authorize_url = self.url + "/oauth/authorize"
        self.token_url = self.url + "/oauth/token"

    def _call(self, method: str, *args: Any) -> Any:
        self._conn.send((method, args))
        ok, value = self._conn.recv()
        if not ok:
            raise RuntimeError(value)
        return value

    def set(self, name: str, value: Any) -> None:
        self._call("set", name, value)

    def mint(self, count: int, first_id: int) -> list[tuple[str, str]]:
        return self._call("mint", count, first_id)

    def refresh_grants_used(self) -> int:
        return self._call("count_refresh_grants")

    def add_app(self, name: str) -> int:
        return self._call("add_app", name)

    def set_fault_rate(
        self, rate: float, kinds: list[str], paths: list[str] | None, methods: list[str] | None
    ) -> None:
        self._call("fault_rate", rate, kinds, paths, methods)

    def requests(self) -> list[tuple[str, str, int]]:
        return self._call("requests")

    def reset_log(self) -> None:
        self._call("reset_log")

    def items(self, app_id: int) -> list[tuple[int, str | None]]:
        return self._call("items", app_id)

    def __enter__(self) -> RemoteFake:
        return self

    def __exit__(self, *exc: object) -> None:
        self._call("stop")
        self._proc.join(timeout=10)
