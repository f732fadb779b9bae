"""What every ``podio_*`` command shares, so they behave as one family.

* ``--json`` on every command: one JSON object for scripts instead of the text summary,
  always, also when the command fails before doing any work (``{"ok": false, "error": …}``)
  or its command line is wrong (from the shell). Every object has ``ok``; a failed one has
  ``error``.
* The common options (``-v``, ``--json``, ``--settings``, ``--traceback``, …) work after a
  sub-command too (``podio_hooks process -v 0``, as a crontab line is written) and are listed
  in the sub-command's ``--help``.
* Verbosity: ``-v0`` prints no summary and no progress (errors still reach stderr),
  ``-v1`` the summary, ``-v2`` one line per unit of work. Progress is drawn only on a
  terminal, at ``-v1`` and above.
* Failures raise :class:`~django.core.management.CommandError`: exit status 1 from the shell,
  an exception a ``call_command`` caller can catch (never ``SystemExit``). Configuration
  errors (``ImproperlyConfigured``, e.g. with ``--skip-checks``) and Podio errors that reach
  the command become a ``CommandError`` with their message, not a traceback.
* A closed pipe (``podio_fetch_items 1 --app | head -1``) ends the command quietly, as the
  Python documentation recommends: no traceback, exit status 1.

A command built on :class:`PodioCommand` parses its options, calls one service and reports
what it did with :meth:`PodioCommand.finish`.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from typing import IO, Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import (
    BaseCommand,
    CommandError,
    CommandParser,
    DjangoHelpFormatter,
    OutputWrapper,
)

from ..exceptions import DecryptionError, PodioError

JSON_HELP = "Print one JSON document (the command's report) instead of the text summary."


def plural(count: int, singular: str, many: str | None = None) -> str:
    """``1 request``, ``3 requests``: counts in summaries read as English."""
    word = singular if count == 1 else (many or singular + "s")
    return f"{count:,} {word}"


def is_terminal(stream: Any) -> bool:
    """Whether ``stream`` (a file or Django's ``OutputWrapper`` around one) is a terminal."""
    raw = getattr(stream, "_out", stream)
    isatty = getattr(raw, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # closed file
        return False


def add_json_argument(parser: argparse.ArgumentParser, *, subcommand: bool = False) -> None:
    """Add ``--json`` to ``parser``; call it on each sub-parser of a command with subcommands.

    A sub-parser's defaults overwrite the main parser's values, so there the default is
    suppressed: ``podio_x --json list`` and ``podio_x list --json`` both work.
    """
    parser.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS if subcommand else False,
        help=JSON_HELP,
    )


def subparsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    """Every sub-command's parser under ``parser``, however deep."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield sub
                yield from subparsers(sub)


def share_options(parser: argparse.ArgumentParser, sub: argparse.ArgumentParser) -> None:
    """Accept ``parser``'s options (Django's common ones, ``--json``) after a sub-command too.

    Their default is suppressed in ``sub``: argparse copies a sub-parser's values over the
    main parser's, so an option not given after the sub-command keeps the value given before
    it (or the main parser's default).
    """
    for action in list(parser._actions):
        names = action.option_strings
        if not names or action.dest in ("help", "version"):
            continue
        if any(name in sub._option_string_actions for name in names):
            continue  # the sub-command defines it itself
        options: dict[str, Any] = {
            "dest": action.dest,
            "default": argparse.SUPPRESS,
            "help": action.help,
        }
        if action.nargs == 0 and action.const is True:
            options["action"] = "store_true"
        elif action.nargs is None:
            options.update(type=action.type, choices=action.choices, metavar=action.metavar)
        else:  # pragma: no cover - no such option among Django's or ours
            continue
        sub.add_argument(*names, **options)
    sub.formatter_class = DjangoHelpFormatter  # the common options last, as on the main parser


def json_requested(argv: list[str]) -> bool:
    """Whether a command line asks for ``--json`` (before a ``--`` that ends the options)."""
    words = argv[: argv.index("--")] if "--" in argv else argv
    return "--json" in words


class PodioCommand(BaseCommand):
    """Base class of the ``podio_*`` management commands."""

    #: Set in :meth:`execute` from the options, for use in ``handle``.
    verbosity: int = 1
    as_json: bool = False
    #: Where the JSON object goes: stdout unless a command sets it (podio_fetch_items sets
    #: stderr while its items fill stdout).
    json_stream: OutputWrapper | None = None
    #: Whether this run has printed its JSON object (there is exactly one).
    json_written: bool = False
    #: From the shell: the command line asked for ``--json`` (known before it is parsed).
    _argv_json: bool = False

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        add_json_argument(parser)
        for sub in subparsers(parser):
            share_options(parser, sub)
        for each in (parser, *subparsers(parser)):
            each.error = self._usage_error(each.error)  # type: ignore[method-assign,assignment]
        return parser

    def _usage_error(self, error: Callable[[str], Any]) -> Callable[[str], Any]:
        """Wrap a parser's ``error``: from the shell with ``--json``, print the JSON object
        first; then argparse prints the usage and exits 2 (``call_command``: CommandError)."""

        def report(message: str) -> Any:
            if getattr(self, "_called_from_command_line", False) and self._argv_json:
                self._write_json({"ok": False, "error": message}, OutputWrapper(sys.stdout))
            return error(message)

        return report

    def execute(self, *args: Any, **options: Any) -> Any:
        self.verbosity = int(options.get("verbosity", 1))
        self.as_json = bool(options.get("json", False))
        self.json_stream = None
        self.json_written = False
        try:
            return super().execute(*args, **options)
        except CommandError as error:
            self._fail_json(str(error))
            raise
        except (ImproperlyConfigured, DecryptionError, PodioError) as error:
            # Messages of these classes are written for operators and carry no secret.
            self._fail_json(str(error))
            raise CommandError(str(error)) from None

    def _fail_json(self, message: str) -> None:
        """With ``--json``, a failure that printed no report yet prints ``{"ok": false, ...}``.

        When that object went to stderr (stdout carries data), Django's ``CommandError:``
        line is left out, so stderr too holds nothing but the one JSON object.
        """
        if not self.as_json:
            return
        stream = self.json_stream or self.stdout
        if not self.json_written:
            self._write_json({"ok": False, "error": message}, stream)
        if stream is self.stderr and getattr(self, "_called_from_command_line", False):
            self.stderr = OutputWrapper(io.StringIO())

    def _write_json(self, report: Mapping[str, Any], stream: OutputWrapper) -> None:
        stream.write(json.dumps(dict(report), indent=2, default=str), style_func=lambda x: x)
        self.json_written = True

    def run_from_argv(self, argv: list[str]) -> None:
        self._argv_json = json_requested(argv[2:])
        try:
            super().run_from_argv(argv)
            sys.stdout.flush()
        except BrokenPipeError:
            # The reader went away (``| head``). Point stdout at /dev/null so the interpreter's
            # own flush at exit cannot raise again, and stop without a traceback.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            sys.exit(1)

    # Output -------------------------------------------------------------------------------

    @property
    def quiet(self) -> bool:
        """No text summary: ``-v0``, or ``--json`` (the JSON document is the report)."""
        return self.verbosity < 1 or self.as_json

    def detail(self, text: str, *, stream: OutputWrapper | None = None) -> None:
        """A line per unit of work, shown at ``-v2`` and above (never with ``--json``)."""
        if self.verbosity >= 2 and not self.as_json:
            (stream or self.stdout).write(text)

    def progress_stream(self) -> IO[str] | None:
        """The terminal to draw progress on (stderr), or None: not a terminal, or ``-v0``."""
        if self.verbosity < 1 or not is_terminal(self.stderr):
            return None
        return getattr(self.stderr, "_out", sys.stderr)

    def finish(
        self,
        report: Mapping[str, Any],
        summary: str,
        *,
        ok: bool = True,
        error: str = "",
        stream: OutputWrapper | None = None,
    ) -> None:
        """Report the run, then fail with ``error`` when it did not succeed.

        With ``--json`` the report is printed as JSON (also on failure, so a script sees what
        was done), with ``ok`` and, on failure, ``error`` added when the report lacks them;
        otherwise ``summary`` is printed unless ``-v0``. ``stream`` defaults to stdout (or
        :attr:`json_stream`); a command whose stdout carries data passes stderr.
        """
        out = stream or self.json_stream or self.stdout
        if self.as_json:
            document = {**report}
            document.setdefault("ok", ok)
            if not ok:
                document.setdefault("error", error or summary)
            self._write_json(document, out)
        elif self.verbosity >= 1:
            style = self.style.SUCCESS if ok else self.style.ERROR
            out.write(style(summary))
        if not ok:
            raise CommandError(error or summary)
