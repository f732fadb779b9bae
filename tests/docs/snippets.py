"""Code blocks read out of the documentation sources, so tests run what the docs say.

A block that a test runs is named in the docs with Sphinx's ``:name:`` option::

    .. code-block:: python
       :name: quickstart-settings

Tests fetch it with ``snippet("quickstart-settings")``: never a copy, so a doc change that
breaks the path fails the test.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [ROOT / "README.rst", *sorted((ROOT / "docs").glob("*.rst"))]
DIRECTIVE = re.compile(r"^(?P<indent>\s*)\.\. code-block::\s*(?P<language>\S+)\s*$")
OPTION = re.compile(r"^\s*:(?P<key>[\w-]+):\s*(?P<value>.*)$")


@dataclass(frozen=True)
class Snippet:
    name: str | None
    language: str
    text: str
    source: Path
    line: int

    def where(self) -> str:
        return f"{self.source.relative_to(ROOT)}:{self.line}"


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def parse(path: Path) -> list[Snippet]:
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Snippet] = []
    i = 0
    while i < len(lines):
        match = DIRECTIVE.match(lines[i])
        if not match:
            i += 1
            continue
        base = len(match["indent"])
        start = i + 1
        i += 1
        options: dict[str, str] = {}
        while i < len(lines) and lines[i].strip() and (option := OPTION.match(lines[i])):
            options[option["key"]] = option["value"].strip()
            i += 1
        body: list[str] = []
        while i < len(lines) and (not lines[i].strip() or _indent(lines[i]) > base):
            body.append(lines[i])
            i += 1
        text = textwrap.dedent("\n".join(body)).strip("\n") + "\n"
        found.append(Snippet(options.get("name"), match["language"], text, path, start))
    return found


def all_snippets() -> list[Snippet]:
    return [snippet for path in SOURCES for snippet in parse(path)]


def snippet(name: str) -> str:
    """The text of the one block named ``name`` in the docs (or README)."""
    matches = [s for s in all_snippets() if s.name == name]
    if len(matches) != 1:
        raise LookupError(f"expected one code block named {name!r} in the docs, found {matches}")
    return matches[0].text
