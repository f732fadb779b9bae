"""``PodioItemForm``: built from the app's fields, validated by the encoder, saved once."""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, date, datetime

import pytest
from django import forms
from django.core import signing
from django.core.exceptions import ImproperlyConfigured
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone, translation

from django_podio import tokens
from django_podio.exceptions import Conflict, InvalidFieldValue
from django_podio.formfields import IdsField, MoneyField, PodioDateField
from django_podio.forms import TOKEN_FIELD, TOKEN_SALT, PodioItemForm
from django_podio.values import Money, item_values

TOKEN = re.compile(r'name="podio_token" value="([^"]+)"')


def test_fields_come_from_the_apps_definitions(podio):
    form = PodioItemForm(client=podio.client, app_id=podio.app.app_id)
    names = [name for name in form.fields if name != TOKEN_FIELD]
    writable = [f["external_id"] for f in podio.app.fields if f["type"] != "calculation"]
    assert names == writable  # every writable field, in the app's order; no calculation
    kinds = {name: type(field) for name, field in form.fields.items()}
    assert kinds["title"] is forms.CharField and kinds["amount"] is forms.DecimalField
    assert kinds["budget"] is MoneyField and kinds["fee"] is forms.DecimalField
    assert kinds["due-date"] is PodioDateField and kinds["day"] is forms.DateField
    assert kinds["status"] is forms.TypedChoiceField
    assert kinds["tags"] is forms.TypedMultipleChoiceField
    assert kinds["related"] is IdsField and kinds["owner"] is IdsField
    assert kinds["email"] is forms.EmailField and kinds["website"] is forms.URLField
    assert kinds["progress"] is forms.IntegerField and kinds["duration"] is forms.DurationField
    assert kinds["photo"] is forms.FileField
    title, notes, fee = form.fields["title"], form.fields["notes"], form.fields["fee"]
    assert (title.label, title.required) == ("Title", True)
    assert isinstance(notes.widget, forms.Textarea) and notes.help_text == "Anything else"
    assert fee.label == "Fee (EUR)" and not fee.required
    assert isinstance(form.fields["status"].widget, forms.RadioSelect)  # display: inline
    assert form.fields["status"].choices == [
        (1, "Planned"),
        (2, "Active"),
        (3, "On hold"),
        (4, "Done"),
    ]
    assert [text for _, text in form.fields["tags"].choices] == ["Urgent", "Client", "Internal"]
    html = form.as_p()
    assert 'type="date"' in html and 'type="time"' in html and 'accept="image/*"' in html
    assert 'name="podio_token"' in html


def test_meta_picks_and_orders_fields(podio):
    class Short(PodioItemForm):
        class Meta:
            app_id = podio.app.app_id
            fields = ["progress", "title"]
            labels = {"title": "Name"}
            widgets = {"progress": forms.NumberInput(attrs={"type": "range"})}

    form = Short(client=podio.client)
    assert list(form.fields) == ["progress", "title", TOKEN_FIELD]
    assert form.fields["title"].label == "Name"
    assert 'type="range"' in str(form["progress"])

    class Calculated(PodioItemForm):
        class Meta:
            app_id = podio.app.app_id
            fields = ["calculation"]

    with pytest.raises(ImproperlyConfigured, match="calculation field"):
        Calculated(client=podio.client)

    class Unknown(PodioItemForm):
        class Meta:
            app_id = podio.app.app_id
            fields = ["nope"]

    with pytest.raises(ImproperlyConfigured, match="does not have"):
        Unknown(client=podio.client)


def _data(form: PodioItemForm, **values) -> dict:
    return {TOKEN_FIELD: form.initial[TOKEN_FIELD], **values}


def test_values_are_validated_by_the_encoder(podio):
    shown = PodioItemForm(client=podio.client, app_id=podio.app.app_id)
    data = _data(
        shown,
        title="Late",
        **{
            "due-date_0": "2024-03-02",
            "due-date_1": "10:00",
            "due-date_2": "2024-03-01",  # ends before it starts: the encoder says so
            "due-date_3": "09:00",
        },
        progress="101",
        related="12, x",
    )
    form = PodioItemForm(data, client=podio.client, app_id=podio.app.app_id)
    assert not form.is_valid()
    assert form.errors["due-date"] == ["The end is before the start."]
    assert "less than or equal to 100" in form.errors["progress"][0]
    assert "ids (numbers)" in form.errors["related"][0]
    assert "title" not in form.errors
    missing = PodioItemForm(_data(shown), client=podio.client, app_id=podio.app.app_id)
    assert not missing.is_valid() and "required" in missing.errors["title"][0]


def test_a_tampered_or_foreign_token_is_refused(podio):
    shown = PodioItemForm(client=podio.client, app_id=podio.app.app_id)
    token = shown.initial[TOKEN_FIELD]
    form = PodioItemForm(
        {"title": "x", TOKEN_FIELD: token[:-2] + "xx"}, client=podio.client, app_id=podio.app.app_id
    )
    assert not form.is_valid() and "changed" in form.errors[TOKEN_FIELD][0]
    other = podio.fake.add_app(name="Other")
    foreign = PodioItemForm(
        {"title": "x", TOKEN_FIELD: token}, client=podio.client, app_id=other.app_id
    )
    assert not foreign.is_valid() and "another app" in foreign.errors[TOKEN_FIELD][0]


def test_save_creates_once_per_shown_form(podio):
    shown = PodioItemForm(client=podio.client, app_id=podio.app.app_id)
    data = _data(shown, title="Once", status="2", tags=["1", "3"], amount="12.50")
    first = PodioItemForm(data, client=podio.client, app_id=podio.app.app_id)
    assert first.is_valid(), first.errors
    created = first.save()
    again = PodioItemForm(data, client=podio.client, app_id=podio.app.app_id)
    assert again.is_valid() and again.save()["item_id"] == created["item_id"]
    posts = podio.fake.requests_to(f"/item/app/{podio.app.app_id}/", "POST")
    assert len(posts) == 1
    values = item_values(podio.client.get_item(created["item_id"]))
    assert values["status"] == ["Active"] and values["tags"] == ["Urgent", "Internal"]
    assert values["amount"] == 12.5
    assert podio.fake.get_item(created["item_id"]).external_id.startswith("django-podio-form:")


def test_two_requests_with_the_same_form_at_once_make_one_item(podio):
    shown = PodioItemForm(client=podio.client, app_id=podio.app.app_id)
    data = _data(shown, title="Double click")
    podio.fake.latency = 0.2  # both requests are in flight together
    results: list = []
    barrier = threading.Barrier(2)

    def submit():
        form = PodioItemForm(data, client=podio.client, app_id=podio.app.app_id)
        assert form.is_valid()
        barrier.wait()
        results.append(form.save()["item_id"])

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert len(results) == 2 and results[0] == results[1]
    titles = [i for i in podio.fake.apps[podio.app.app_id].items.values() if i.external_id]
    assert len(titles) == 1


def test_a_bound_form_shows_the_item_and_updates_what_changed(podio):
    created = podio.client.create_item(
        podio.app.app_id,
        {
            "title": "Shown",
            "status": "Done",
            "budget": Money(12, "USD"),
            "due-date": datetime(2024, 3, 1, 9, 30, tzinfo=UTC),
            "day": date(2024, 5, 6),
            "owner": podio.user.profile_id,
        },
    )
    item = podio.client.get_item(created["item_id"])
    form = PodioItemForm(client=podio.client, item=item)
    assert form.app_id == podio.app.app_id
    html = form.as_p()
    assert 'value="Shown"' in html and re.search(r'value="4"[^>]*checked', html)
    shown_at = timezone.localtime(datetime(2024, 3, 1, 9, 30, tzinfo=UTC))  # the site's zone
    assert f'value="{shown_at:%Y-%m-%d}"' in html and f'value="{shown_at:%H:%M}"' in html
    assert 'value="2024-05-06"' in html and f'value="{podio.user.profile_id}"' in html
    data = {name: value for name, value in _rendered(form).items()}
    data["progress"] = "60"
    bound = PodioItemForm(data, client=podio.client, item=item)
    assert bound.is_valid(), bound.errors
    assert bound.changed_data == ["progress"]
    answer = bound.save()
    assert answer["revision"] == 1
    [put] = podio.fake.requests_to(f"/item/{created['item_id']}", "PUT")
    progress_id = next(f["field_id"] for f in podio.app.fields if f["external_id"] == "progress")
    assert put.json == {"fields": {str(progress_id): 60}, "revision": 0}


def test_a_form_shown_earlier_has_no_change_in_its_token(podio):
    """The token a page was shown with is older than the one the bound form makes for its
    initial: that is no change of the user's (the test above meets it only when a second
    ticks between the two forms)."""
    item = podio.client.get_item(podio.other)
    shown = PodioItemForm(client=podio.client, item=item)
    data = _rendered(shown)
    data[TOKEN_FIELD] = _signed_earlier({"i": item["item_id"], "r": item["revision"]}, 120)
    bound = PodioItemForm(data, client=podio.client, item=item)
    assert bound.initial[TOKEN_FIELD] != data[TOKEN_FIELD]
    assert bound.is_valid(), bound.errors
    assert bound.changed_data == [] and not bound.has_changed()
    assert bound.podio_values() == {}


def _signed_earlier(payload: dict, seconds: int) -> str:
    """A form token as ``PodioItemForm`` signs it, made ``seconds`` ago."""

    class Earlier(signing.TimestampSigner):
        def timestamp(self) -> str:
            return signing.b62_encode(int(time.time()) - seconds)

    return Earlier(salt=TOKEN_SALT).sign_object(payload)


def _rendered(form: PodioItemForm) -> dict:
    """What a browser sends back for a form it was shown unchanged."""
    data: dict = {}
    for bound in form:
        widget, value = bound.field.widget, bound.value()
        if isinstance(bound.field, forms.FileField):
            continue
        if isinstance(bound.field, IdsField):
            data[bound.html_name] = bound.field.prepare_value(value) or ""
        elif isinstance(widget, forms.MultiWidget):
            parts = value if isinstance(value, list) else widget.decompress(value)
            for n, (sub, part) in enumerate(zip(widget.widgets, parts, strict=True)):
                data[f"{bound.html_name}_{n}"] = _wire(sub, part)
        else:
            data[bound.html_name] = _wire(widget, value)
    return data


def _wire(widget: forms.Widget, value) -> str | list[str]:
    shown = widget.format_value(value)
    if isinstance(widget, forms.CheckboxSelectMultiple):
        return list(shown)
    if isinstance(shown, list):
        return shown[0] if shown else ""
    return "" if shown is None else str(shown)


# The host's own pages (tests/views.py): render, validate, save, conflict -----------------


@pytest.fixture
def host(podio, client, db):
    tokens.store_app_connection(podio.app.app_id, podio.app.app_token)
    podio.web = client
    return podio


@pytest.mark.django_db
def test_the_host_view_renders_validates_and_saves(host):
    url = f"/test/items/{host.app.app_id}/new/"
    page = host.web.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Title" in html and 'name="status"' in html and 'name="notes"' not in html
    token = TOKEN.search(html).group(1)
    bad = host.web.post(url, {TOKEN_FIELD: token, "title": "", "amount": "x"})
    assert bad.status_code == 200 and "This field is required." in bad.content.decode()
    assert TOKEN.search(bad.content.decode()).group(1) == token  # the same submission
    photo = SimpleUploadedFile("p.png", b"\x89PNG fake", content_type="image/png")
    data = {TOKEN_FIELD: token, "title": "From the site", "status": "3", "photo": photo}
    saved = host.web.post(url, data)
    assert saved.status_code == 302
    item_id = int(saved["Location"].rstrip("/").rsplit("/", 1)[1])
    values = item_values(host.client.get_item(item_id))
    assert values["title"] == "From the site" and values["status"] == ["On hold"]
    assert values["photo"][0].name == "p.png"
    again = host.web.post(url, {TOKEN_FIELD: token, "title": "From the site", "status": "3"})
    assert again["Location"] == saved["Location"]  # sent twice: still one item
    assert len(host.fake.requests_to(f"/item/app/{host.app.app_id}/", "POST")) == 1


@pytest.mark.django_db
def test_the_host_view_shows_a_conflict_as_a_form_error(host):
    created = host.client.create_item(host.app.app_id, {"title": "Before", "status": "Planned"})
    url = f"/test/items/{host.app.app_id}/{created['item_id']}/"
    token = TOKEN.search(host.web.get(url).content.decode()).group(1)
    host.fake.update_item(created["item_id"], {"title": "Changed in Podio"})
    page = host.web.post(url, {TOKEN_FIELD: token, "title": "Mine", "status": "1"})
    assert page.status_code == 200
    assert "Someone changed this item in Podio" in page.content.decode()
    values = item_values(host.client.get_item(created["item_id"]))
    assert values["title"] == "Changed in Podio"  # nothing overwritten
    fresh = TOKEN.search(host.web.get(url).content.decode()).group(1)
    done = host.web.post(url, {TOKEN_FIELD: fresh, "title": "Mine", "status": "1"})
    assert done.status_code == 302
    assert item_values(host.client.get_item(created["item_id"]))["title"] == "Mine"


def test_save_refuses_an_invalid_form_and_conflicts_raise(podio):
    form = PodioItemForm({"title": ""}, client=podio.client, app_id=podio.app.app_id)
    assert not form.is_valid()
    with pytest.raises(ValueError, match="did not validate"):
        form.save()
    created = podio.client.create_item(podio.app.app_id, {"title": "A"})
    item = podio.client.get_item(created["item_id"])
    shown = PodioItemForm(client=podio.client, item=item)
    podio.fake.update_item(created["item_id"], {"title": "B"})
    stale = PodioItemForm(
        {TOKEN_FIELD: shown.initial[TOKEN_FIELD], "title": "C"},
        client=podio.client,
        item=podio.client.get_item(created["item_id"]),
    )
    assert stale.is_valid()
    with pytest.raises(Conflict):
        stale.save()
    assert stale.non_field_errors() and "Reload the page" in stale.non_field_errors()[0]


def test_an_empty_money_field_and_a_half_timed_range(podio):
    """What a browser sends for an untouched money field (the currency select keeps its
    first choice) is no value; a range with one time only is refused in plain words."""
    shown = PodioItemForm(client=podio.client, app_id=podio.app.app_id)
    data = _data(shown, title="x", budget_0="", budget_1="EUR")
    data.update({"due-date_0": "2024-06-02", "due-date_1": "09:00", "due-date_2": "2024-06-03"})
    form = PodioItemForm(data, client=podio.client, app_id=podio.app.app_id)
    assert not form.is_valid()
    assert "budget" not in form.errors and form.cleaned_data["budget"] is None
    assert form.errors["due-date"] == ["Give both the start and the end a time, or neither."]


def test_form_errors_and_help_texts_speak_the_active_language(podio):
    """A Danish page: our own errors and help texts are Danish (Podio's labels stay as set)."""
    shown = PodioItemForm(client=podio.client, app_id=podio.app.app_id)
    data = {
        "title": "x",
        TOKEN_FIELD: shown.initial[TOKEN_FIELD][:-2] + "xx",
        "related": "12, x",
        "due-date_1": "10:00",  # a time without its day
    }
    with translation.override("da"):
        form = PodioItemForm(data, client=podio.client, app_id=podio.app.app_id)
        assert not form.is_valid()
        assert form.errors[TOKEN_FIELD] == ["Denne formular er blevet ændret: genindlæs siden."]
        assert form.errors["related"] == ["Indtast element-ID'er (tal) adskilt af kommaer."]
        assert form.errors["due-date"] == ["Angiv startdatoen for tidspunktet."]
        html = form.as_p()
    assert "Podio-element-ID'er, adskilt af kommaer." in html
    assert "Timer, minutter og sekunder: 1:30:00." in html
    assert "Due date" in html  # the app's own label, as Podio holds it


def test_encoder_refusals_a_person_caused_speak_the_active_language(podio):
    """The encoder's reason stays English for developers; the form shows a person's words."""
    shown = PodioItemForm(client=podio.client, app_id=podio.app.app_id)
    data = _data(
        shown,
        title="Late",
        phone="call me",
        **{
            "due-date_0": "2024-03-02",
            "due-date_1": "10:00",
            "due-date_2": "2024-03-01",
            "due-date_3": "09:00",
        },
    )
    with translation.override("da"):
        form = PodioItemForm(data, client=podio.client, app_id=podio.app.app_id)
        assert not form.is_valid()
        assert form.errors["due-date"] == ["Slutningen ligger før starten."]
        assert form.errors["phone"] == ["Indtast et gyldigt telefonnummer."]
        with pytest.raises(InvalidFieldValue) as refused:
            podio.client.create_item(podio.app.app_id, {"phone": "call me"})
    assert "is not a phone number" in str(refused.value)  # an exception, for developers
