"""Creates that happen exactly once: the answer lost after Podio made the item.

The fake's after-processing faults make the item, then drop the answer (or replace it by a
5xx, or send it after the client's read timeout): the ambiguous failures the network really
produces. With an external id the client finds the item instead of making a second one;
without one it says it cannot know, and sends nothing more.
"""

from __future__ import annotations

import time

import pytest

from django_podio.api.client import PodioClient
from django_podio.exceptions import PodioConnectionError, ServerError

AMBIGUOUS = ["drop_after", "500_after", "504_after"]


def items_of(podio) -> list:
    return list(podio.fake.apps[podio.app.app_id].items.values())


def creates(podio) -> list:
    return podio.fake.requests_to(f"/item/app/{podio.app.app_id}/", "POST")


@pytest.fixture
def primed(podio):
    podio.client.get_app(podio.app.app_id)
    podio.fake.reset_log()
    return podio


@pytest.mark.parametrize("fault", AMBIGUOUS)
def test_a_lost_answer_with_an_external_id_returns_the_one_item(primed, fault):
    podio = primed
    podio.fake.add_fault(fault, path=f"/item/app/{podio.app.app_id}/", method="POST")
    answer = podio.client.create_item(podio.app.app_id, {"title": "Once"}, external_id="ext-1")
    [item] = [i for i in items_of(podio) if i.external_id == "ext-1"]
    assert answer["item_id"] == item.item_id and answer["title"] == "Once"
    assert answer["revision"] == 0
    assert len(creates(podio)) == 1  # found, not created again
    lookups = podio.fake.requests_to(f"/item/app/{podio.app.app_id}/external_id/ext-1", "GET")
    assert [r.status for r in lookups] == [200]


def test_a_read_timeout_after_processing_is_ambiguous_too(primed, fake):
    podio = primed
    fake.timeout_fault_seconds = 1.0
    client = PodioClient(podio.token, api_url=fake.url, timeout=(2, 0.3), sleep=lambda s: None)
    fake.add_fault("timeout_after", path=f"/item/app/{podio.app.app_id}/", method="POST")
    answer = client.create_item(podio.app.app_id, {"title": "Slow"}, external_id="slow-1")
    assert [i.item_id for i in items_of(podio) if i.external_id == "slow-1"] == [answer["item_id"]]
    deadline = time.monotonic() + 5  # the slow answer is logged once the fake has sent it
    while not creates(podio) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(creates(podio)) == 1


def test_an_item_podio_does_not_have_is_created_again(primed):
    podio = primed
    # Dropped before processing: Podio has no item, so the look-up finds none and it is sent
    # again.
    podio.fake.add_fault("drop", path=f"/item/app/{podio.app.app_id}/", method="POST", count=2)
    answer = podio.client.create_item(podio.app.app_id, {"title": "Third time"}, external_id="t")
    assert [i.item_id for i in items_of(podio) if i.external_id == "t"] == [answer["item_id"]]
    assert [r.status for r in creates(podio)] == [0, 0, 200]


def test_giving_up_says_the_outcome_is_unknown(primed):
    podio = primed
    podio.fake.add_fault("drop", path=f"/item/app/{podio.app.app_id}/", method="POST", count=10)
    with pytest.raises(PodioConnectionError) as info:
        podio.client.create_item(podio.app.app_id, {"title": "Never"}, external_id="never")
    assert info.value.outcome_unknown
    assert "no item with external_id 'never' after 4 tries" in str(info.value)
    assert len(creates(podio)) == 4 and items_of(podio) == [items_of(podio)[0]]


@pytest.mark.parametrize("fault", AMBIGUOUS)
def test_without_an_external_id_an_ambiguous_failure_is_not_retried(primed, fault, sleeper):
    podio = primed
    podio.fake.add_fault(fault, path=f"/item/app/{podio.app.app_id}/", method="POST")
    with pytest.raises((PodioConnectionError, ServerError)) as info:
        podio.client.create_item(podio.app.app_id, {"title": "Maybe"})
    error = info.value
    assert error.outcome_unknown
    assert "may have been created" in str(error) and "external_id" in str(error)
    assert len(creates(podio)) == 1  # sent once: never blindly again
    assert sleeper.calls == []
    assert [i.external_id for i in items_of(podio)].count(None) == 2  # it did get made


def test_a_connection_never_made_is_sent_again_even_without_an_external_id(primed, sleeper):
    podio = primed
    refused = PodioClient(podio.token, api_url="http://127.0.0.1:9", sleep=sleeper)
    with pytest.raises(PodioConnectionError) as info:
        refused.create_item(podio.app.app_id, {"title": "x"})
    assert info.value.maybe_sent is False
    assert not getattr(info.value, "outcome_unknown", False)
    assert len(sleeper.calls) == 3  # MAX_RETRIES tries more: nothing reached Podio


def test_a_failed_look_up_is_reported_not_guessed(primed):
    podio = primed
    path = f"/item/app/{podio.app.app_id}/"
    podio.fake.add_fault("drop_after", path=path, method="POST")
    podio.fake.add_fault("500", path=path + "external_id/", method="GET", count=10)
    with pytest.raises(PodioConnectionError) as info:
        podio.client.create_item(podio.app.app_id, {"title": "x"}, external_id="lost")
    assert "look it up before creating it again" in str(info.value)
    assert len(creates(podio)) == 1


def test_many_creates_with_a_fifth_of_answers_lost_make_each_item_once(primed):
    podio = primed
    podio.fake.faults = type(podio.fake.faults)(seed=7)
    podio.fake.set_fault_rate(
        0.2,
        kinds=["drop_after", "500_after"],
        paths=[f"/item/app/{podio.app.app_id}"],
        methods=["POST"],
    )
    answers = [
        podio.client.create_item(podio.app.app_id, {"title": f"#{n}"}, external_id=f"n-{n}")
        for n in range(100)
    ]
    podio.fake.set_fault_rate(0)
    made = [i for i in items_of(podio) if (i.external_id or "").startswith("n-")]
    assert len(made) == 100 and len({i.external_id for i in made}) == 100
    assert sorted(a["item_id"] for a in answers) == sorted(i.item_id for i in made)
    lost = [r for r in creates(podio) if r.status != 200]
    assert len(creates(podio)) == 100 and 8 < len(lost) < 35  # every lost one was found
