"""The demo's "New item" page in a real browser: a form built from the app's fields in Podio.

Headless Chromium logs in with Podio, opens "New item", sends a value the encoder refuses
(a due date that ends before it starts: the page says so on that field), corrects it, and
finds the new item at the top of the dashboard's list. Database and fake checks run after
the browser is closed (see test_demo_login.py).
"""

from __future__ import annotations

import pytest

from django_podio.values import item_values

from .conftest import chromium, screenshot
from .test_demo_login import demo_site, open_consent_page  # noqa: F401 - the fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_new_item_form_validates_creates_once_and_lists_the_item(demo_site):  # noqa: F811
    fake, app_id = demo_site.fake, demo_site.seeded["app_id"]
    with chromium(demo_site.chromium) as page:
        open_consent_page(page, demo_site)
        page.click("#allow")
        page.wait_for_url(demo_site.url + "/dashboard/")
        page.click("#new-item")
        page.wait_for_url(demo_site.url + "/items/new/")
        labels = page.locator("#new-item-form label").all_inner_texts()
        options = page.locator("input[name=status] + *, label:has(input[name=status])")
        status_texts = options.all_inner_texts()
        page.fill("input[name=title]", "Made in the browser")
        page.check("input[name=status][value='2']")
        page.fill("input[name=amount]", "42.50")
        page.fill("input[name='due-date_0']", "2024-06-02")
        page.fill("input[name='due-date_1']", "09:00")
        page.fill("input[name='due-date_2']", "2024-06-01")  # ends before it starts
        page.fill("input[name='due-date_3']", "17:00")
        page.click("#create-item")
        page.wait_for_selector("ul.errorlist")
        error = page.inner_text("ul.errorlist")
        kept_title = page.input_value("input[name=title]")
        screenshot(page, "new-item-error")
        page.fill("input[name='due-date_2']", "2024-06-03")
        page.click("#create-item")
        page.wait_for_url(demo_site.url + "/dashboard/")
        message = page.inner_text("ul.messages")
        first_row = page.inner_text("#items-table tbody tr:first-child")
        screenshot(page, "new-item-created")

    assert {"Title:", "Status:", "Amount:", "Budget:", "Due date:", "Progress:"} <= set(labels)
    assert any("Active" in text for text in status_texts)
    assert "The end is before the start." in error  # the encoder's reason, in a person's words
    assert kept_title == "Made in the browser"
    assert message == "Created “Made in the browser” in Podio."
    assert "Made in the browser" in first_row
    made = [
        fake.item_json(i)
        for i in fake.apps[app_id].items.values()
        if (i.external_id or "").startswith("django-podio-form:")
    ]
    assert len(made) == 1
    values = item_values(made[0])
    assert values["status"] == ["Active"] and values["amount"] == 42.5
    creates = [
        r for r in fake.requests_to(f"/item/app/{app_id}/", "POST") if "filter" not in r.path
    ]
    assert len(creates) == 1
