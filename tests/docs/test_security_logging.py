"""docs/security.rst's LOGGING example, pasted into the quickstart's project and run.

It must keep what Django logs on its own (``runserver``'s access lines, ``Not Found`` and
``Internal Server Error`` reports from ``django.request``) and mask every secret in them: the
OAuth callback's ``?code=``, hook URLs, a secret quoted in an exception's message.
"""

from __future__ import annotations

import html
import re
import secrets
import time
from urllib.parse import urljoin

import requests

from .hostproject import free_port, host_project
from .snippets import snippet

# A view that fails with a secret in its path and in its exception's message (test scaffolding:
# the quickstart has no failing page).
BOOM = """

def boom(request, value):
    raise RuntimeError(f"could not use {value}")


urlpatterns.append(path("boom/<str:value>/", boom))
"""


def approve_at_podio(session: requests.Session, authorize_url: str) -> str:
    """The fake's consent page, as a person answers it: "Continue" (decision=allow)."""
    page = session.get(authorize_url, allow_redirects=False, timeout=30)
    if page.status_code == 302:
        return page.headers["Location"]
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page.text))
    fields = {html.unescape(k): html.unescape(v) for k, v in fields.items()}
    answer = session.post(
        urljoin(authorize_url, "/oauth/authorize"),
        data={**fields, "decision": "allow"},
        allow_redirects=False,
        timeout=30,
    )
    assert answer.status_code == 302, answer.text[:500]
    return answer.headers["Location"]


def test_the_documented_logging_keeps_django_s_reports_and_masks_secrets(tmp_path):
    with host_project(tmp_path) as project:
        project.append_settings(snippet("security-logging"))
        with (project.root / "mysite" / "urls.py").open("a") as urls:
            urls.write(BOOM)
        project.manage("migrate")
        port = free_port()
        project.background(
            f"python manage.py runserver 127.0.0.1:{port} --noreload", ready="Quit the server"
        )
        log = project.logs[-1]
        project.wait_for_port(port)
        site = f"http://127.0.0.1:{port}"

        browser = requests.Session()
        page = browser.get(f"{site}/accounts/podio/login/", timeout=30)
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)[1]
        started = browser.post(
            f"{site}/accounts/podio/login/",
            data={"csrfmiddlewaretoken": csrf},
            headers={"Referer": f"{site}/accounts/podio/login/"},
            allow_redirects=False,
            timeout=30,
        )
        callback = approve_at_podio(browser, started.headers["Location"])
        code = re.search(r"[?&]code=([^&]+)", callback)[1]
        assert browser.get(callback, allow_redirects=False, timeout=30).status_code == 302

        hook_secret = secrets.token_urlsafe(24)
        assert requests.post(f"{site}/podio/hooks/{hook_secret}/", timeout=30).status_code == 404
        assert requests.get(f"{site}/no/such/page/", timeout=30).status_code == 404
        boom_secret = secrets.token_urlsafe(24)
        assert requests.get(f"{site}/boom/{boom_secret}/", timeout=30).status_code == 500
        time.sleep(0.5)  # the last access-log line is written after the response
        output = log.read_text()

    # Django's own lines are all there: access log, 404 and 500 reports with the traceback.
    assert "GET /accounts/podio/login/callback/?code=" in output, output
    assert "Not Found: /no/such/page/" in output, output
    assert "Internal Server Error: /boom/" in output, output
    assert "RuntimeError: could not use" in output, output
    assert "POST /podio/hooks/" in output, output
    for secret in (code, hook_secret, boom_secret):
        assert secret not in output, (secret, output)
