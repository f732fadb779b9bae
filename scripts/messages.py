"""The package's translation catalogs: update them, or check that they are up to date.

    python scripts/messages.py update [LOCALE ...]  # makemessages, then compilemessages
    python scripts/messages.py check                # what CI runs: exit 1 and say why

``update`` updates every catalog in ``django_podio/locale`` and creates the ones named (a new
language: ``update de``).

``update`` runs Django's ``makemessages`` from ``django_podio/`` (so the catalogs land in
``django_podio/locale``) with this interpreter's Django, then ``compilemessages``. ``check``
runs the same ``makemessages`` on a copy of the package and fails when it would change a
``.po`` beyond its ``POT-Creation-Date`` header, when a message has no translation (or a fuzzy
one), or when a committed ``.mo`` does not hold exactly what its ``.po`` compiles to. Both need
GNU gettext (``xgettext``, ``msgmerge``, ``msgfmt``: the Debian package ``gettext``).

Locations are written per file, not per line (``--add-location=file``): moving code inside a
module does not make the catalog stale, only adding, changing or removing a message does.
"""

from __future__ import annotations

import difflib
import gettext
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "django_podio"
#: The locales ``update`` creates when they do not exist yet; existing ones are always updated.
DEFAULT_LOCALES = ("da",)
#: One place for how the catalogs are extracted: ``update`` and ``check`` both use it.
MAKEMESSAGES_OPTIONS = ("--add-location=file", "--no-obsolete")
GETTEXT_TOOLS = ("xgettext", "msgmerge", "msguniq", "msgattrib", "msgfmt")
#: A header line that changes on every run; everything else must stay as committed.
VOLATILE = re.compile(r'^"POT-Creation-Date: .*\\n"$', re.MULTILINE)
STATISTICS = re.compile(r"(\d+) (translated|fuzzy|untranslated)")


class MissingGettext(RuntimeError):
    """GNU gettext is not installed: nothing can be extracted or compiled."""


def require_gettext() -> None:
    missing = [tool for tool in GETTEXT_TOOLS if shutil.which(tool) is None]
    if missing:
        raise MissingGettext(
            f"GNU gettext is not installed ({', '.join(missing)} not on PATH): "
            "install it, e.g. apt-get install gettext"
        )


def existing_locales(package: Path) -> list[str]:
    locale = package / "locale"
    if not locale.is_dir():
        return []
    return sorted(p.name for p in locale.iterdir() if (p / "LC_MESSAGES" / "django.po").is_file())


def django_admin(package: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``django-admin`` of this interpreter's Django, run from the package directory, with no
    settings (makemessages then configures only what it needs)."""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    return subprocess.run(  # noqa: S603 (our interpreter, our arguments)
        [sys.executable, "-m", "django", *args],
        cwd=package,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def makemessages(package: Path, locales: list[str]) -> list[str]:
    flags = [arg for locale in locales for arg in ("-l", locale)]
    run = django_admin(package, "makemessages", *flags, *MAKEMESSAGES_OPTIONS)
    if run.returncode != 0:
        return [f"makemessages failed:\n{run.stdout}{run.stderr}"]
    return []


def update(new: list[str]) -> int:
    require_gettext()
    package = ROOT / PACKAGE
    locales = sorted({*DEFAULT_LOCALES, *existing_locales(package), *new})
    (package / "locale").mkdir(exist_ok=True)  # makemessages writes only into an existing one
    problems = makemessages(package, locales)
    if not problems:
        run = django_admin(package, "compilemessages")
        if run.returncode != 0:
            problems.append(f"compilemessages failed:\n{run.stdout}{run.stderr}")
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        print(f"messages: {', '.join(locales)} updated and compiled in {PACKAGE}/locale")
    return 1 if problems else 0


def _stable(text: str) -> str:
    return VOLATILE.sub('"POT-Creation-Date: (ignored)\\n"', text)


def stale_catalogs(package: Path, locales: list[str]) -> list[str]:
    """What ``makemessages`` would change, found on a copy of the package."""
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / PACKAGE
        shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__", "*.py[co]"))
        problems += makemessages(copy, locales)
        if problems:
            return problems
        for locale in locales:
            name = f"{PACKAGE}/locale/{locale}/LC_MESSAGES/django.po"
            committed = _stable((package / "locale" / locale / "LC_MESSAGES/django.po").read_text())
            extracted = _stable((copy / "locale" / locale / "LC_MESSAGES/django.po").read_text())
            if committed != extracted:
                diff = difflib.unified_diff(
                    committed.splitlines(),
                    extracted.splitlines(),
                    f"{name} (committed)",
                    f"{name} (makemessages)",
                    lineterm="",
                )
                shown = "\n".join(list(diff)[:60])
                problems.append(f"{name} is stale: run `make messages` and translate\n{shown}")
    return problems


def untranslated(po: Path, mo: Path) -> list[str]:
    """Fuzzy or missing translations (and format errors), by ``msgfmt --check``."""
    run = subprocess.run(  # noqa: S603 (a fixed tool, our paths)
        ["msgfmt", "--check", "--statistics", "-o", str(mo), str(po)],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    )
    if run.returncode != 0:
        return [f"msgfmt refuses {po.relative_to(ROOT)}:\n{run.stderr}"]
    counts = {kind: int(n) for n, kind in STATISTICS.findall(run.stderr)}
    if counts.get("fuzzy") or counts.get("untranslated") or not counts.get("translated"):
        return [f"{po.relative_to(ROOT)}: {run.stderr.strip()} (every message needs a translation)"]
    return []


def _catalog(mo: Path) -> dict[object, str]:
    with mo.open("rb") as handle:
        return dict(gettext.GNUTranslations(handle)._catalog)  # type: ignore[attr-defined]


def compiled_mismatch(package: Path, locale: str, compiled: Path) -> list[str]:
    """The committed ``.mo`` must hold exactly what its ``.po`` compiles to (compared as
    catalogs: two gettext releases may lay the same catalog out differently)."""
    mo = package / "locale" / locale / "LC_MESSAGES/django.mo"
    name = mo.relative_to(ROOT)
    if not mo.is_file():
        return [f"{name} is missing: run `make messages`"]
    try:
        committed = _catalog(mo)
    except OSError as error:
        return [f"{name} is not a gettext catalog ({error}): run `make messages`"]
    expected = _catalog(compiled)
    if committed != expected:
        keys = committed.keys() | expected.keys()
        differ = [k for k in keys if committed.get(k) != expected.get(k)]
        return [
            f"{name} does not match its .po ({len(differ)} messages differ): run `make messages`"
        ]
    return []


def check() -> int:
    require_gettext()
    package = ROOT / PACKAGE
    locales = existing_locales(package)
    problems = [] if locales else [f"no catalog in {PACKAGE}/locale (expected at least da)"]
    problems += [f"{PACKAGE}/locale/{d}: no django.po" for d in DEFAULT_LOCALES if d not in locales]
    if locales:
        problems += stale_catalogs(package, locales)
    with tempfile.TemporaryDirectory() as tmp:
        for locale in locales:
            po = package / "locale" / locale / "LC_MESSAGES/django.po"
            compiled = Path(tmp) / f"{locale}.mo"
            found = untranslated(po, compiled)
            problems += found or compiled_mismatch(package, locale, compiled)
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        print(f"messages: {', '.join(locales)} complete, up to date and compiled")
    return 1 if problems else 0


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("update", "check") or (argv[0] == "check" and argv[1:]):
        print(__doc__, file=sys.stderr)
        return 2
    try:
        return update(argv[1:]) if argv[0] == "update" else check()
    except MissingGettext as error:
        print(error, file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
