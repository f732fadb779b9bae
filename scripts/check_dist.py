"""Check what `python -m build` put into dist/ before anyone uploads it.

`twine check` reads only the metadata and `check-manifest` only compares file lists; neither
notices a wheel that drags the test suite along, an sdist whose tests cannot run, or a
version that differs from the one in django_podio/__init__.py. Usage (see `make package`):

    python scripts/check_dist.py dist
"""

from __future__ import annotations

import ast
import email.parser
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# What the sdist must carry for `pytest` to run from it, besides the package itself.
SDIST_NEEDS = (
    "LICENSE",
    "README.rst",
    "CHANGELOG.rst",
    "pyproject.toml",
    "setup.cfg",  # the pytest configuration, among others
    "MANIFEST.in",
    "tests/conftest.py",
    "tests/settings.py",
    "tests/databases.py",
    "tests/urls.py",
    "example_project/manage.py",
    "django_podio/py.typed",
    "django_podio/locale/da/LC_MESSAGES/django.po",
    "django_podio/locale/da/LC_MESSAGES/django.mo",
)
#: What the wheel must carry besides the modules: the compiled catalogs (no build step
#: compiles them on the user's machine).
WHEEL_NEEDS = (
    "django_podio/py.typed",
    "django_podio/migrations/0001_initial.py",
    "django_podio/locale/da/LC_MESSAGES/django.mo",
)
# Each must be declared: they are imported by the package (not only by its dependencies).
DIRECT_DEPENDENCIES = (
    "django",
    "django-allauth",
    "django-encrypted-model-fields",
    "cryptography",
    "requests",
)
# One module whose tests run from the unpacked sdist (all of them are collected).
SDIST_SMOKE_TESTS = "tests/test_fields.py"


def source_version() -> str:
    tree = ast.parse((ROOT / "django_podio" / "__init__.py").read_text())
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "__version__" for t in node.targets)
            and isinstance(node.value, ast.Constant)
        ):
            return str(node.value.value)
    raise SystemExit("no literal __version__ in django_podio/__init__.py")


def check_wheel(path: Path, version: str) -> list[str]:
    problems = []
    dist_info = f"django_podio-{version}.dist-info/"
    with zipfile.ZipFile(path) as wheel:
        names = wheel.namelist()
        metadata = email.parser.Parser().parsestr(wheel.read(dist_info + "METADATA").decode())
    strays = [n for n in names if not n.startswith(("django_podio/", dist_info))]
    if strays:
        problems.append(f"wheel ships files outside the package: {strays[:5]}")
    for needed in WHEEL_NEEDS:
        if needed not in names:
            problems.append(f"wheel lacks {needed}")
    if not any(n.startswith(dist_info + "licenses/") for n in names):
        problems.append("wheel lacks the LICENSE file")
    if any("__pycache__" in n or n.endswith(".pyc") for n in names):
        problems.append("wheel ships bytecode")
    if metadata["Version"] != version:
        problems.append(f"wheel metadata says {metadata['Version']}, the source says {version}")
    if metadata["License-Expression"] != "MIT":
        problems.append(f"License-Expression is {metadata['License-Expression']!r}")
    requires = {
        r.split(";")[0].split("[")[0].split(">")[0].split("=")[0].split("<")[0].strip().lower()
        for r in metadata.get_all("Requires-Dist") or []
        if "extra ==" not in r
    }
    missing = [d for d in DIRECT_DEPENDENCIES if d not in requires]
    if missing:
        problems.append(f"undeclared direct dependencies: {missing}")
    return problems


def check_sdist(path: Path, version: str) -> list[str]:
    problems = []
    top = f"django_podio-{version}/"
    with tarfile.open(path) as sdist, tempfile.TemporaryDirectory() as tmp:
        names = {m.name.removeprefix(top) for m in sdist.getmembers()}
        for needed in SDIST_NEEDS:
            if needed not in names:
                problems.append(f"sdist lacks {needed}")
        junk = [n for n in names if n.startswith(".ci/") or "__pycache__" in n]
        if junk:
            problems.append(f"sdist ships CI files or bytecode: {junk[:5]}")
        if problems:
            return problems
        sdist.extractall(tmp, filter="data")
        unpacked = Path(tmp) / top
        problems += run_sdist_tests(unpacked)
    return problems


def run_sdist_tests(unpacked: Path) -> list[str]:
    # Run from the unpacked tree so its own copy of django_podio is the one imported.
    where = subprocess.run(
        [sys.executable, "-c", "import django_podio; print(django_podio.__file__)"],
        cwd=unpacked,
        capture_output=True,
        text=True,
        check=False,
    )
    if not where.stdout.strip().startswith(str(unpacked)):
        return [f"the sdist check would import django_podio from {where.stdout.strip()!r}"]
    problems = []
    for args in (["--collect-only", "-q"], [SDIST_SMOKE_TESTS, "-q"]):
        run = subprocess.run(  # noqa: S603 (our interpreter, constant arguments)
            [sys.executable, "-m", "pytest", "-m", "not browser", *args],
            cwd=unpacked,
            capture_output=True,
            text=True,
            check=False,
        )
        last = (run.stdout.strip().splitlines() or ["(no output)"])[-1]
        print(f"sdist: pytest {' '.join(args)}: {last}")
        if run.returncode != 0:
            problems.append(f"pytest {' '.join(args)} fails in the unpacked sdist:\n{run.stdout}")
    return problems


def main(dist: str) -> int:
    version = source_version()
    wheel = Path(dist) / f"django_podio-{version}-py3-none-any.whl"
    sdist = Path(dist) / f"django_podio-{version}.tar.gz"
    built = sorted(p.name for p in Path(dist).iterdir())
    if built != sorted([wheel.name, sdist.name]):
        print(f"expected {wheel.name} and {sdist.name} for version {version}, found {built}")
        return 1
    problems = check_wheel(wheel, version) + check_sdist(sdist, version)
    for problem in problems:
        print(f"dist: {problem}")
    if not problems:
        print(f"dist: {wheel.name} and {sdist.name} look right")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1] if len(sys.argv) > 1 else "dist"))
