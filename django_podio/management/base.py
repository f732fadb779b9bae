"""What every ``podio_*`` command shares, so they behave as one family.

* ``--json`` on every command: one JSON document for scripts instead of the text summary.
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
import json
import os
import sys
from collections.abc import Mapping
from typing import IO, Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper

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


class PodioCommand(BaseCommand):
    """Base class of the ``podio_*`` management commands."""

    #: Set in :meth:`execute` from the options, for use in ``handle``.
    verbosity: int = 1
    as_json: bool = False

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        add_json_argument(parser)
        return parser

    def execute(self, *args: Any, **options: Any) -> Any:
        self.verbosity = int(options.get("verbosity", 1))
        self.as_json = bool(options.get("json", False))
        try:
            return super().execute(*args, **options)
        except CommandError:
            raise
        except (ImproperlyConfigured, DecryptionError, PodioError) as error:
            # Messages of these classes are written for operators and carry no secret.
            raise CommandError(str(error)) from None

    def run_from_argv(self, argv: list[str]) -> None:
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
        was done); otherwise ``summary`` is printed unless ``-v0``. ``stream`` defaults to
        stdout; a command whose stdout carries data passes stderr.
        """
        out = stream or self.stdout
        if self.as_json:
            out.write(json.dumps(dict(report), indent=2, default=str), style_func=lambda x: x)
        elif self.verbosity >= 1:
            style = self.style.SUCCESS if ok else self.style.ERROR
            out.write(style(summary))
        if not ok:
            raise CommandError(error or summary)
