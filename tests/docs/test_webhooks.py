"""The webhooks page, followed in the quickstart's project: hooks registered with the fake
Podio, an item edited through the API, the delivery received by ``runserver``, the cache row
updated and the documented receiver called.

Every step is a block of docs/webhooks.rst (or the quickstart's), run in the host project's
own processes; the fake Podio is the quickstart's ``python -m django_podio.testing``.
"""

from __future__ import annotations

import json
import re
import time

from .hostproject import free_port, host_project
from .snippets import snippet

EDIT = """
from django_podio import get_client

with get_client(app_id={app_id}) as podio:
    item = next(iter(podio.iter_items({app_id})))
    podio.put(f"/item/{{item['item_id']}}", {{"fields": {{"title": "Edited in Podio"}}}})
    print(item["item_id"])
"""
CACHED_TITLE = """
from django_podio.models import PodioItem

print(PodioItem.objects.get(item_id={item_id}).title)
"""


def wait_for(check, what: str, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)
    return value


def test_webhooks_page_in_the_quickstart_project(tmp_path):
    with host_project(tmp_path) as project:
        app_id, app_token = re.search(r"app (\d+) .*PODIO_APP_TOKEN=(\S+)", project.banner).groups()
        port = free_port()
        project.append_settings(
            snippet("webhooks-settings").replace("127.0.0.1:8000", f"127.0.0.1:{port}")
        )
        with (project.root / "mysite" / "urls.py").open("a") as urls:
            urls.write("\n\n" + snippet("webhooks-receiver"))
        project.env["PYTHONUNBUFFERED"] = "1"  # the receiver's print reaches the log at once
        project.manage("migrate")
        project.background(
            f"python manage.py runserver 127.0.0.1:{port} --noreload", ready="Quit the server"
        )
        runserver_log = project.logs[-1]
        project.wait_for_port(port)

        project.env["PODIO_APP_TOKEN"] = app_token
        project.manage("podio_app_auth", app_id)
        del project.env["PODIO_APP_TOKEN"]
        for line in snippet("webhooks-sync").splitlines():
            argv = line.replace("APP_ID", app_id).split()
            assert argv[:2] == ["python", "manage.py"], line
            project.manage(*argv[2:])

        def active() -> bool:
            hooks = json.loads(project.manage("podio_hooks", "list", app_id, "--json"))["hooks"]
            return len(hooks) == 3 and {h["status"] for h in hooks} == {"active"}

        wait_for(active, "three verified hooks")

        item_id = project.manage("shell", stdin=EDIT.format(app_id=app_id)).split()[-1]
        expected = f"item.update: item {item_id} of app {app_id} is now 'Edited in Podio'"
        wait_for(lambda: expected in runserver_log.read_text(), "the documented receiver's line")
        cached = project.manage("shell", stdin=CACHED_TITLE.format(item_id=item_id))
        assert cached.split("\n")[-2] == "Edited in Podio"
