"""Hostile command arguments never end in a traceback (issue 17, point 6).

Every argument that parses to a number or a time is range-checked: ids beyond the 64-bit
columns, negative counts, ``nan``/``inf``, windows that overflow a datetime, times at either
end of the calendar. A property test (hypothesis) builds command lines of each command from
such values and runs them as the shell does and through ``call_command``: the only outcomes
are success, ``CommandError`` (exit 1) and argparse's usage error (exit 2), and with
``--json`` exactly one JSON object is printed. The examples of the issue run in a real
``python -m django`` process too.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from django_podio import tokens

from .commands import shell

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[1]

# Values -----------------------------------------------------------------------------------

EDGE_NUMBERS = [2**31, 2**63 - 1, 2**63, 2**64, -(2**63) - 1, 999999999999, 10**30, -1, 0]
NUMBERS = st.one_of(
    st.integers().map(str),
    st.sampled_from(EDGE_NUMBERS).map(str),
    st.sampled_from(["nan", "inf", "-inf", "1e3", "0x10", "1_000", "١٢", "+7", " 5 ", "9" * 5000]),
)
OFFSETS = st.integers(min_value=-23 * 60, max_value=23 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
TIMES = st.one_of(
    st.datetimes(timezones=st.one_of(st.none(), OFFSETS)).map(datetime.isoformat),
    st.sampled_from(
        [
            "9999-12-31T23:00:00-05:00",
            "0001-01-01T00:00:00+01:00",
            "9999-12-31",
            "0001-01-01",
            "1969-12-31T23:59:59Z",
            "2999-01-01 00:00:00",
            "last",
            "now",
            "",
        ]
    ),
)
# What a shell can pass: no NUL (argv cannot hold one), no lone surrogates.
WORDS = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"), max_size=12)
VALUES = st.one_of(NUMBERS, TIMES, WORDS)
FLAG = st.sampled_from(["--json", "-v", "-v0", "--verbosity=3", "--skip-checks"])


@st.composite
def command_lines(draw, tmp: Path, app_id: int) -> list[str]:
    """A command line of one of the commands, built from hostile values (and, now and then,
    the id of the app that exists, so that the commands also get past the lookups)."""
    ids = st.one_of(VALUES, st.just(str(app_id)))
    name = draw(
        st.sampled_from(
            ["podio_refresh", "podio_fetch_items", "podio_app_auth", "podio_reencrypt", "hooks"]
        )
    )
    argv: list[str]
    if name == "podio_refresh":
        argv = [name]
        options = {"--within": VALUES, "--concurrency": VALUES}
        flags = ["--dry-run", "--enqueue"]
    elif name == "podio_fetch_items":
        argv = [name, draw(ids)]
        # --output only ever names a file in the test's own directory (or stdout).
        output = st.sampled_from(["-", str(tmp / "items.out"), str(tmp / "missing" / "x")])
        options = {
            "--since": TIMES,
            "--concurrency": VALUES,
            "--user": WORDS,
            "--format": VALUES,
            "--output": output,
        }
        flags = ["--app", "--store", "--enqueue"]
    elif name == "podio_app_auth":
        argv = [name, draw(ids)]
        options, flags = {}, []
    elif name == "podio_reencrypt":
        argv = [name]
        options, flags = {}, ["--dry-run"]
    else:
        action = draw(st.sampled_from(["sync", "list", "delete", "verify", "process", "replay"]))
        argv = ["podio_hooks", action]
        if action in ("sync", "delete", "verify") or (action == "list" and draw(st.booleans())):
            argv.append(draw(ids))
        options = {
            "sync": {"--user": WORDS, "--events": VALUES},
            "replay": {"--since": TIMES},
        }.get(action, {})
        flags = {"sync": ["--app"], "replay": ["--failed"]}.get(action, [])
    for option in draw(st.lists(st.sampled_from(sorted(options)), unique=True)) if options else []:
        argv += [option, draw(options[option])]
    argv += draw(st.lists(st.sampled_from(flags), unique=True)) if flags else []
    for flag in draw(st.lists(FLAG, max_size=2, unique=True)):
        argv += [flag, draw(st.sampled_from(["0", "1", "2", "9", "x"]))] if flag == "-v" else [flag]
    return argv


# The property ------------------------------------------------------------------------------


def json_stream(argv: list[str], out: str, err: str) -> str:
    """Where the one JSON object is: stderr while podio_fetch_items sends items to stdout."""
    if argv[0] == "podio_fetch_items" and "--store" not in argv:
        output = argv[argv.index("--output") + 1] if "--output" in argv else "-"
        if output == "-" and err.lstrip().startswith("{"):
            return err
    return out


def check_command_line(argv: list[str]) -> int:
    run = shell(*argv)
    assert run.code in (0, 1, 2), (argv, run.code, run.err)
    assert "Traceback" not in run.err, (argv, run.err)
    if "--json" in argv:
        text = json_stream(argv, run.out, run.err)
        document = json.loads(text)  # exactly one object: json.loads refuses extra data
        assert isinstance(document, dict), (argv, text)
        assert document["ok"] is (run.code == 0), (argv, document)
        if run.code:
            assert document["error"], (argv, document)
    # The same through call_command: nothing but CommandError.
    with contextlib.suppress(CommandError):
        call_command(*argv, stdout=StringIO(), stderr=StringIO())
    return run.code


@pytest.fixture
def podio_app(fake, podio_settings, monkeypatch):
    """An app the commands can reach: app connection stored, 3 items, a hook URL."""
    podio_settings(WEBHOOK_BASE_URL="http://127.0.0.1:9", MAX_RETRIES=0)
    fake.rate_limit_general = fake.rate_limit_limited = fake.rate_limit_login = 10**6
    app = fake.add_app(name="Projects")
    fake.add_items(app.app_id, 3)
    tokens.store_app_connection(app.app_id, app.app_token)
    monkeypatch.setenv("PODIO_APP_TOKEN", app.app_token)
    return app


@settings(
    max_examples=int(os.environ.get("PODIO_FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_hostile_command_lines_end_in_a_message_never_a_traceback(podio_app, tmp_path, data):
    argv = data.draw(command_lines(tmp_path, podio_app.app_id), label="argv")
    event(f"exit {check_command_line(argv)}")


@pytest.mark.parametrize(
    "argv",
    [
        ["podio_refresh", "--within", "999999999999"],
        ["podio_refresh", "--within", "999999999999", "--enqueue"],
        ["podio_refresh", "--concurrency", "1000000"],
        ["podio_fetch_items", "1", "--app", "--since", "9999-12-31T23:00:00-05:00"],
        ["podio_hooks", "replay", "--since", "9999-12-31T23:00:00-05:00"],
        ["podio_hooks", "replay", "--since", "0001-01-01T00:00:00+01:00"],
        ["podio_hooks", "delete", str(2**63)],
        ["podio_app_auth", "-5"],
        ["podio_fetch_items", "nan", "--app"],
    ],
)
def test_the_issues_examples_in_a_real_shell(fake, argv):
    from .concurrency.test_races import child_env

    result = subprocess.run(
        [sys.executable, "-m", "django", *argv, "--json"],
        cwd=ROOT,
        env={**os.environ, **child_env(fake)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "is expected" in result.stderr  # argparse's usage error, with the range
    document = json.loads(result.stdout)
    assert document["ok"] is False and "is expected" in document["error"]


def test_times_at_the_ends_of_the_calendar_are_refused_with_the_range():
    from django_podio.items import parse_since

    for text in ("9999-12-31T23:00:00-05:00", "0001-01-01T00:00:00+01:00", "1969-12-31"):
        with pytest.raises(ValueError, match="out of range: a time between 1970-01-01"):
            parse_since(text)
    tomorrow = datetime.now(UTC) + timedelta(hours=20)
    assert parse_since(tomorrow.isoformat()) == tomorrow
    assert parse_since("1970-01-01") == datetime(1970, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "args", "options", "message"),
    [
        ("podio_refresh", [], {"within": 999999999999}, "--within"),
        ("podio_refresh", [], {"concurrency": 10**6, "enqueue": True}, "--concurrency"),
        ("podio_fetch_items", ["1"], {"app": True, "since": "9999-12-31T23:00:00-05:00"}, "since"),
        ("podio_fetch_items", ["1"], {"app": True, "concurrency": -1}, "--concurrency"),
        ("podio_hooks", ["replay"], {"since": "0001-01-01T00:00:00+01:00"}, "--since"),
        ("podio_hooks", ["replay"], {"since": datetime(1, 1, 1, tzinfo=UTC)}, "--since"),
    ],
)
def test_keyword_arguments_of_call_command_are_checked_too(db, name, args, options, message):
    """call_command's keyword arguments skip the parser: handle checks them once more."""
    with pytest.raises(CommandError, match=message):
        call_command(name, *args, **options, stdout=StringIO(), stderr=StringIO())


def test_a_refresh_margin_setting_out_of_range_is_a_command_error(db, podio_settings):
    podio_settings(REFRESH_MARGIN=10**13)
    with pytest.raises(CommandError, match="--within: '10000000000000' is not a window"):
        call_command("podio_refresh", stdout=StringIO(), stderr=StringIO())
