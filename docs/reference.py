"""The API reference's rules, as a Sphinx extension (``docs/conf.py``) and for the test suite.

* **Complete**: every public name of every module the reference documents (``automodule``)
  is rendered, and so is every ``FakePodio`` attribute that ``testing.rst`` uses. A module's
  public names are its ``__all__``, or, without one, the names it defines at top level that do
  not start with an underscore. A missing one is a warning, an error under ``make docs``.
* **No generated noise**: Django's per-model ``get_next_by_<field>``,
  ``get_previous_by_<field>`` and ``get_<field>_display`` methods are left out.
* **Tasks read as functions**: ``.. podio-tasks:: django_podio.tasks`` documents each task (a
  Django ``Task`` object wrapping a function, which autodoc skips) with its function's
  signature and docstring.

Importing this module needs neither Sphinx nor Django; :func:`setup` needs Sphinx.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from functools import partialmethod
from pathlib import Path
from types import ModuleType
from typing import Any

DOCS = Path(__file__).resolve().parent
GENERATED = re.compile(r"get_(next|previous)_by_\w+|get_\w+_display")
DJANGO_GENERATORS = ("_get_next_or_previous_by_FIELD", "_get_FIELD_display")
#: How testing.rst names the fake in its examples.
FAKE_USES = re.compile(r"\bfake_podio\.([a-z_][a-z0-9_]*)")


def public_names(module: ModuleType) -> list[str]:
    """The names a module offers: its ``__all__``, else what it defines at top level."""
    names = getattr(module, "__all__", None)
    if names is None:
        names = []
        for node in ast.parse(inspect.getsource(module)).body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.append(node.name)
            elif isinstance(node, ast.Assign):
                names += [t.id for t in node.targets if isinstance(t, ast.Name)]
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names.append(node.target.id)
    return [name for name in names if not name.startswith("_")]


def documented_modules(api_rst: Path = DOCS / "api.rst") -> list[str]:
    """The modules the reference documents with ``automodule``."""
    return re.findall(r"^\.\. automodule:: (\S+)", api_rst.read_text(), re.MULTILINE)


def fake_podio_uses(testing_rst: Path = DOCS / "testing.rst") -> list[str]:
    """The ``FakePodio`` attributes (methods, settable knobs) that testing.rst uses."""
    return sorted(set(FAKE_USES.findall(testing_rst.read_text())))


def expected_objects() -> list[tuple[str, ...]]:
    """Every object the reference must render, each as the dotted names it may have there: a
    name a module re-exports may be documented where it is defined instead."""
    expected = []
    for module_name in documented_modules():
        module = importlib.import_module(module_name)
        for name in public_names(module):
            names = [f"{module_name}.{name}"]
            obj = getattr(module, name, None)
            home, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
            if isinstance(home, str) and isinstance(qualname, str) and home != module_name:
                names.append(f"{home}.{qualname}")
            expected.append(tuple(names))
    expected += [(f"django_podio.testing.FakePodio.{name}",) for name in fake_podio_uses()]
    return expected


def is_generated(name: str, obj: Any) -> bool:
    """A method Django adds to every model (one per date field or field with choices)."""
    # Django sets a functools.partialmethod of one of its Model methods; read from the class,
    # it is a function carrying that partialmethod (``__partialmethod__`` from Python 3.13,
    # ``_partialmethod`` before).
    made_from = obj if isinstance(obj, partialmethod) else None
    made_from = made_from or getattr(obj, "__partialmethod__", None)
    made_from = made_from or getattr(obj, "_partialmethod", None)
    django_method = getattr(getattr(made_from, "func", None), "__name__", "")
    return bool(GENERATED.fullmatch(name)) and django_method in DJANGO_GENERATORS


def _skip_member(app: Any, what: str, name: str, obj: Any, skip: bool, options: Any) -> Any:
    if what == "class" and is_generated(name, obj):
        return True
    return None


def _check_complete(app: Any, env: Any) -> None:
    from sphinx.util import logging

    logger = logging.getLogger(__name__)
    rendered = set(env.domaindata["py"]["objects"])
    for names in expected_objects():
        if not rendered.intersection(names):
            logger.warning(
                "the API reference does not render %s (a public name of a documented module, "
                "or a FakePodio attribute that testing.rst uses): document it",
                names[0],
                location="api",
            )


def task_entries(module_name: str) -> list[str]:
    """reStructuredText for each task of a module: a ``py:function`` with the signature and
    docstring of the function the task runs (without its ``context`` argument)."""
    module = importlib.import_module(module_name)
    lines = []
    for name in public_names(module):
        obj = getattr(module, name)
        func = getattr(obj, "func", None)
        if not (callable(func) and callable(getattr(obj, "enqueue", None))):
            continue
        signature = inspect.signature(func)
        parameters = [p for p in signature.parameters.values() if p.name != "context"]
        shown = signature.replace(parameters=parameters, return_annotation=signature.empty)
        lines += [f".. py:function:: {name}{shown}", f"   :module: {module_name}", ""]
        lines += [
            f"   {line}" if line else "" for line in (inspect.getdoc(func) or "").splitlines()
        ]
        lines.append("")
    return lines


def setup(app: Any) -> dict[str, Any]:
    from docutils.statemachine import StringList
    from sphinx.util.docutils import SphinxDirective

    class Tasks(SphinxDirective):
        """``.. podio-tasks:: module``: every task of the module, documented as a function.

        autodoc skips them (a Task object is not a function, and its class is Django's).
        """

        required_arguments = 1

        def run(self) -> list[Any]:
            from docutils import nodes

            container = nodes.container()
            source = StringList(task_entries(self.arguments[0]), source=self.get_source_info()[0])
            self.state.nested_parse(source, self.content_offset, container)
            return container.children

    app.add_directive("podio-tasks", Tasks)
    app.connect("autodoc-skip-member", _skip_member)
    app.connect("env-check-consistency", _check_complete)
    return {"parallel_read_safe": True}
