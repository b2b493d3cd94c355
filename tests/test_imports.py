"""Every module of `verify` and `proofs` imports in the installed environment, and every package
they import (at module level or inside a function) is declared as a runtime dependency in
pyproject.toml -- so a fresh `python -m venv` plus the README's install runs every claim.

Declared distributions are read from pyproject.toml (tomllib) and widened by the extras they ask
for (`dask[distributed]` declares `distributed` too, read from dask's installed metadata); import
names are mapped to distributions by `importlib.metadata.packages_distributions`; the standard
library is `sys.stdlib_module_names`. The scan reads each module's source with `ast`, so an import
inside a function (e.g. a version lookup) counts as well.
"""
from __future__ import annotations

import ast
import importlib
import importlib.metadata as md
import pkgutil
import re
import sys
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11; the check is skipped on 3.10

ROOT = Path(__file__).resolve().parents[1]
OWN = {"verify", "proofs"}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement(spec: str) -> tuple[str, list[str], str]:
    """(name, extras, marker) of a PEP 508 requirement string (enough of it for our files)."""
    spec, _, marker = spec.partition(";")
    m = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?", spec)
    assert m, spec
    extras = [e.strip() for e in (m.group(2) or "").split(",") if e.strip()]
    return m.group(1), extras, marker.strip()


def declared_runtime() -> set[str]:
    """Normalised names of the distributions pyproject.toml's [project.dependencies] declares,
    with the distributions each requested extra pulls in."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names: set[str] = set()
    for spec in project["dependencies"]:
        name, extras, _ = _requirement(spec)
        names.add(_norm(name))
        for extra in extras:
            for sub in md.requires(name) or []:
                sub_name, _, marker = _requirement(sub)
                if re.search(r"""extra\s*==\s*['"]%s['"]""" % re.escape(extra), marker):
                    names.add(_norm(sub_name))
    return names


def own_modules() -> list[str]:
    out = []
    for pkg_name in sorted(OWN):
        pkg = importlib.import_module(pkg_name)
        out.append(pkg_name)
        for info in pkgutil.walk_packages(pkg.__path__, prefix=pkg_name + "."):
            out.append(info.name)
    return out


def imported_top_names(module_name: str) -> dict[str, int]:
    """{top-level import name: first line} of every absolute import in the module's source."""
    spec = importlib.util.find_spec(module_name)
    source = Path(spec.origin).read_text()
    names: dict[str, int] = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                names.setdefault(alias.name.split(".")[0], node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.setdefault(node.module.split(".")[0], node.lineno)
    return names


def undeclared(modules: list[str], declared: set[str]) -> list[str]:
    dists = md.packages_distributions()
    problems = []
    for mod in modules:
        for top, line in sorted(imported_top_names(mod).items()):
            if top in OWN or top in sys.stdlib_module_names or top == "__future__":
                continue
            owners = {_norm(d) for d in dists.get(top, [])}
            if not owners:
                problems.append(f"{mod}:{line} imports {top!r}, which no installed distribution "
                                "provides (and pyproject.toml does not declare)")
            elif not owners & declared:
                problems.append(f"{mod}:{line} imports {top!r} from {sorted(owners)}, not declared "
                                "in pyproject.toml's [project.dependencies]")
    return problems


def test_every_module_imports():
    failed = []
    for mod in own_modules():
        try:
            importlib.import_module(mod)
        except ImportError as e:  # reported below, with every other failing module
            failed.append(f"{mod}: {type(e).__name__}: {e}")
    assert not failed, "\n".join(failed)


def test_every_import_is_declared():
    problems = undeclared(own_modules(), declared_runtime())
    assert not problems, "\n".join(problems)


def test_test_only_packages_are_not_runtime_dependencies():
    declared = declared_runtime()
    for name in ("pytest", "hypothesis", "pypdf", "mutmut"):
        assert _norm(name) not in declared, f"{name} is a test/dev tool, not a runtime dependency"


def test_the_check_catches_an_undeclared_import(tmp_path, monkeypatch):
    """The scan itself: a module importing an undeclared distribution (scipy, as far.py once did;
    pytest inside a function) or a name nothing provides is reported; a declared one is not."""
    pkg = tmp_path / "verify_probe_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "m.py").write_text("import numpy\nfrom scipy.special import expit\n\n"
                              "def f():\n    import pytest\n    from no_such_dist_xyz import a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    problems = undeclared(["verify_probe_pkg.m"], declared_runtime())
    text = "\n".join(problems)
    for name in ("'scipy'", "'pytest'", "'no_such_dist_xyz'"):
        assert name in text, text
    assert "'numpy'" not in text, text


def test_import_verify_does_not_load_numba():
    """`import verify` (every command's first step, `verify list` and `--help` included) does not
    import numba; verify.api.run_sgd is verify.sgd.run_sgd, loaded on first use."""
    import subprocess
    code = ("import sys, verify, verify.api; assert 'numba' not in sys.modules, 'numba loaded'; "
            "import verify.sgd; assert verify.api.run_sgd is verify.sgd.run_sgd; "
            "assert not hasattr(verify.api, 'no_such_name')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
