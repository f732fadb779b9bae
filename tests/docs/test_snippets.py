"""Every code block in the README and the docs is at least well-formed.

The quickstart, testing and rotation blocks are *run* by the other tests here; this one makes
sure no block anywhere is broken Python, a broken template or a broken ini file, and that
the names tests fetch blocks by are unique.
"""

from __future__ import annotations

import ast
import configparser
import subprocess
from collections import Counter

import pytest
from django.template import engines

from .snippets import all_snippets

SNIPPETS = all_snippets()


def test_the_docs_have_snippets():
    assert len(SNIPPETS) > 20
    assert {s.language for s in SNIPPETS} >= {"python", "shell", "html+django", "ini"}


def test_snippet_names_are_unique():
    names = Counter(s.name for s in SNIPPETS if s.name)
    assert [name for name, count in names.items() if count > 1] == []


@pytest.mark.parametrize(
    "snippet", [s for s in SNIPPETS if s.language == "python"], ids=lambda s: s.where()
)
def test_python_snippets_parse(snippet):
    ast.parse(snippet.text, filename=snippet.where())


@pytest.mark.parametrize(
    "snippet", [s for s in SNIPPETS if s.language == "html+django"], ids=lambda s: s.where()
)
def test_template_snippets_compile(snippet):
    engines["django"].from_string(snippet.text)


@pytest.mark.parametrize(
    "snippet", [s for s in SNIPPETS if s.language == "ini"], ids=lambda s: s.where()
)
def test_ini_snippets_parse(snippet):
    configparser.ConfigParser().read_string(snippet.text)


@pytest.mark.parametrize(
    "snippet", [s for s in SNIPPETS if s.language == "shell"], ids=lambda s: s.where()
)
def test_shell_snippets_parse(snippet):
    result = subprocess.run(["bash", "-n"], input=snippet.text, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
