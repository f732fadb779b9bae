"""Running a ``podio_*`` command as the shell runs it, in this process.

``shell("podio_hooks", "process", "-v", "0")`` goes through ``run_from_argv``, the path of
``manage.py``: the command line is parsed as from a terminal (a usage error prints argparse's
usage and exits 2), a ``CommandError`` is printed on stderr and exits 1, and anything else
escapes as the traceback an operator would see. Only the process is spared.
"""

from __future__ import annotations

import json
import re
import shlex
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from io import StringIO
from typing import Any

from django.core.management import get_commands, load_command_class

from .docs.snippets import ROOT, SOURCES, all_snippets


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self, stream: str = "out") -> dict[str, Any]:
        """The one JSON object on ``stream`` (json.loads refuses a second one)."""
        text = self.out if stream == "out" else self.err
        document = json.loads(text)
        assert isinstance(document, dict), text
        return document


def shell(*argv: str) -> Run:
    name = argv[0]
    out, err = StringIO(), StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        command = load_command_class(get_commands()[name], name)
        try:
            command.run_from_argv(["manage.py", *argv])
            code = 0
        except SystemExit as exit:
            code = exit.code if isinstance(exit.code, int) else 1
    return Run(code, out.getvalue(), err.getvalue())


# The command lines the docs give ---------------------------------------------------------------

COMMAND = re.compile(r"(?:^|\s)(?:python\s+)?(?:\S*/)?(?:manage\.py\s+)?(podio_\w+(?:\s+\S+)*)")
INLINE = re.compile(r"``((?:python\s+)?(?:manage\.py\s+)?podio_\w+\s[^`]+)``")
#: Inline literals that name an option of a command in prose, not a command line to run.
FRAGMENTS = {"podio_fetch_items --store"}


def _synopsis(line: str) -> bool:
    """``manage.py podio_x [--opt N] (--a | --b)``: a usage summary, not a command."""
    return any(mark in line for mark in ("[", "(", "|", "...", "…"))


def documented_command_lines() -> list[tuple[str, str]]:
    """``(where, command line)`` for every ``podio_*`` command line in README and docs/:
    lines of code blocks (cron entries included: what follows ``manage.py``), and inline
    literals written as a command with arguments."""
    found: list[tuple[str, str]] = []
    for snippet in all_snippets():
        if snippet.language not in ("text", "sh", "shell", "console", "bash"):
            continue
        for offset, line in enumerate(snippet.text.splitlines(), start=1):
            code = line.split(" #", 1)[0]
            if "podio_" not in code or "manage.py" not in code or _synopsis(code):
                continue
            match = COMMAND.search(code.split("manage.py", 1)[1])
            if match:
                found.append((f"{snippet.where()}+{offset}", match.group(1).strip()))
    for source in SOURCES:
        text = source.read_text(encoding="utf-8")
        for match in INLINE.finditer(text):
            literal = " ".join(match.group(1).split())
            command = literal.split("manage.py", 1)[-1].strip()
            if command in FRAGMENTS or _synopsis(command):
                continue
            line = text.count("\n", 0, match.start()) + 1
            found.append((f"{source.relative_to(ROOT)}:{line}", command))
    return found


def argv_of(command_line: str, **values: str) -> list[str]:
    """The words of a documented command line, placeholders (``APP_ID``) filled in."""
    words = shlex.split(command_line)
    return [values.get(word, word) for word in words]
