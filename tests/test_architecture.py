"""The house rules on imports (issue 21): data flows one way, so the import graph of verify/ and
proofs/ has no circle; no claim module imports another claim module; proofs/ does not import
verify/; the engines do not import the benchmark.

The graph is read from the source with ``ast`` (every import statement, also those inside
functions, since a deferred import still ties the two modules together), so the test sees what a
reader sees, independent of what happens to be imported at run time.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("verify", "proofs")


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            out[_module_name(path)] = path
    return out


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The longest known module that ``name`` (a dotted import target) lies in."""
    parts = name.split(".")
    while parts:
        cand = ".".join(parts)
        if cand in MODULES:
            return cand
        parts.pop()
    return None


def _imports(mod: str) -> set[str]:
    """Known modules imported anywhere in ``mod`` (relative imports resolved)."""
    path = MODULES[mod]
    tree = ast.parse(path.read_text(), filename=str(path))
    pkg = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = pkg.split(".")
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            # ``from pkg import name``: an edge to the submodule pkg.name where there is one,
            # else to pkg itself (the name is defined there)
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base
                       for a in node.names]
        for t in targets:
            r = _resolve(t)
            if r and r != mod:
                found.add(r)
    return found


GRAPH = {m: _imports(m) for m in MODULES}


def _strip_packages(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """Edges into a package's __init__ that only re-export are still edges; keep them all."""
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def _without_package_inits(graph):
    """Package __init__ modules re-export their children (``verify`` -> ``verify.api``), and a
    child's ``from verify import model`` resolves to the module ``verify.model``, not to the
    package; a child that imports its own package's __init__ for a name would show as a circle
    through the __init__.  Such edges are kept: an __init__ that imports a module which imports
    the __init__ back is a real circle."""
    return graph


def test_the_graph_is_not_empty():
    # the parser must see the known one-way edges, or every other test here is vacuous
    assert "verify.model" in GRAPH["verify.dynamics"]
    assert "verify.claims.statement" in GRAPH["verify.claims.c_thm3_5"]


def test_no_import_circle():
    cycles = _cycles(_without_package_inits(_strip_packages(GRAPH)))
    assert cycles == [], f"import circles: {cycles}"


def test_the_cycle_finder_finds_a_circle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize("mod", sorted(m for m in MODULES if m.startswith("verify.claims.c_")))
def test_no_claim_imports_another_claim(mod):
    others = sorted(m for m in GRAPH[mod] if m.startswith("verify.claims.c_"))
    assert others == [], f"{mod} imports the claim module(s) {others}"


@pytest.mark.parametrize("mod", sorted(m for m in MODULES if m.startswith("proofs")))
def test_proofs_do_not_import_verify(mod):
    assert not [m for m in GRAPH[mod] if m.startswith("verify")]


@pytest.mark.parametrize("mod", ["verify.engine_f64", "verify.engine_arb", "verify.quadrature",
                                 "verify.model", "verify.dynamics"])
def test_engines_do_not_import_the_benchmark(mod):
    assert "verify.bench" not in GRAPH[mod]
