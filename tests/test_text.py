"""Text from Podio is stored whatever it holds: NUL dropped, the item kept (every database).

PostgreSQL refuses NUL in text and in jsonb; before django_podio.text, one item holding it
failed its whole page of ``podio_fetch_items --store`` there, at every run.
"""

from __future__ import annotations

import json
from io import StringIO

import pytest
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth import get_user_model
from django.core.management import call_command
from hypothesis import given
from hypothesis import strategies as st

from django_podio import tokens
from django_podio.models import PodioConnection, PodioItem
from django_podio.text import NulFreeJSONEncoder, storable_json, storable_text

from .conftest import login_with_podio

# Text that holds NUL and backslashes next to it: the cases an escape-level rewrite can break.
TEXT = st.text(alphabet=st.sampled_from(["\x00", "\\", "u", "0", "a", '"', "é", "😀"]))
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT, children, max_size=4),
    max_leaves=20,
)


def holds_nul(data) -> bool:
    """Whether a NUL is in any string or key of ``data``."""
    if isinstance(data, str):
        return "\x00" in data
    if isinstance(data, dict):
        return any(holds_nul(key) or holds_nul(value) for key, value in data.items())
    if isinstance(data, list):
        return any(holds_nul(value) for value in data)
    return False


def test_storable_text():
    assert storable_text("a\x00b\x00") == "ab"
    text = "no nul here"
    assert storable_text(text) is text


def test_storable_json_cleans_keys_and_strings_at_any_depth():
    data = {"k\x00": ["a\x00", {"in\x00ner": "b\x00c", "n": 1}], "x": None, "t": True}
    assert storable_json(data) == {"k": ["a", {"inner": "bc", "n": 1}], "x": None, "t": True}


@given(JSON)
def test_the_encoder_stores_what_storable_json_gives(data):
    encoded = json.dumps(data, cls=NulFreeJSONEncoder)
    assert not holds_nul(json.loads(encoded))
    assert json.loads(encoded) == storable_json(data)


def test_the_encoder_keeps_a_literal_backslash_u0000():
    literal = "\\u0000 is six characters"
    assert json.loads(json.dumps([literal, "\\\x00"], cls=NulFreeJSONEncoder)) == [literal, "\\"]


@pytest.fixture
def app(fake, podio_settings):
    fake.rate_limit_general = fake.rate_limit_limited = 10**6
    podio_settings(PAGE_SIZE=10)
    app = fake.add_app(name="Projects")
    fake.add_items(app.app_id, 25)
    tokens.store_app_connection(app.app_id, app.app_token)
    return app


def store(app) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("podio_fetch_items", str(app.app_id), "--app", "--store", stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.mark.django_db
def test_an_item_whose_text_holds_nul_is_cached_without_it(fake, app):
    item = fake.add_item(app.app_id, fields={"title": "Bad\x00 title"}, external_id="ext\x00ernal")
    # A key and a value Podio might hold anywhere in the item, NUL included.
    fake.serve_odd_item(item["item_id"], **{"note\x00": {"text": "one\x00two"}})
    out, err = store(app)
    assert "26 items fetched" in out and "26 created" in out, out + err
    row = PodioItem.objects.get(item_id=item["item_id"])
    assert (row.title, row.external_id) == ("Bad title", "external")
    assert row.data["note"] == {"text": "onetwo"} and row.data["title"] == "Bad title"
    assert not holds_nul(row.data)
    # The next run finds it stored: nothing to write, nothing failing.
    out, _ = store(app)
    assert "26 unchanged" in out, out


@pytest.mark.django_db
def test_an_odd_item_whose_id_holds_nul_is_set_aside_with_a_storable_message(fake, app):
    odd_id = sorted(fake.apps[app.app_id].items)[3]
    fake.serve_odd_item(odd_id, item_id=f"{odd_id}\x00")
    out, err = store(app)
    assert "1 odd item set aside" in out, out + err
    assert "\x00" not in out + err
    assert PodioItem.objects.count() == 24


@pytest.mark.django_db
def test_a_podio_profile_whose_name_holds_nul_logs_in(client, fake_podio):
    fake_podio.add_user(mail="ada@example.com", name="Ada\x00 Love\x00lace")
    assert login_with_podio(client).status_code == 302
    user = get_user_model().objects.get()
    assert (user.first_name, user.last_name, user.email) == ("Ada", "Lovelace", "ada@example.com")
    account = SocialAccount.objects.get()
    assert account.extra_data["profile"]["name"] == "Ada Lovelace"
    assert PodioConnection.objects.get().user == user


@pytest.mark.django_db
def test_an_address_holding_nul_is_not_taken_for_another(client, fake_podio):
    """Dropping NUL from an e-mail address would make it someone else's: it is not used."""
    get_user_model().objects.create_user("victim", email="ada@example.com")
    fake_podio.add_user(mail="ada\x00@example.com", name="Mallory")
    assert login_with_podio(client).status_code == 302
    account = SocialAccount.objects.get()
    assert account.user.username != "victim" and account.user.email == ""
    assert not EmailAddress.objects.filter(user=account.user).exists()
    assert "\x00" not in repr(account.extra_data)
