"""The core's structure: no import cycle among sampt's modules, and the core imports no torch."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

import sampt

ROOT = Path(sampt.__file__).parent


def _imports(top_level_only: bool = False) -> dict[str, set[str]]:
    """Module -> the sampt modules it imports (function bodies included unless ``top_level_only``)."""
    modules = {}
    for path in ROOT.rglob("*.py"):
        parts = ("sampt",) + path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text())
        for node in (tree.body if top_level_only else ast.walk(tree)):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            graph[name].update(t for t in targets if t in modules and t != name)
    return graph


def _assert_acyclic(graph: dict[str, set[str]]) -> None:
    visiting, done = [], set()

    def visit(module: str) -> None:
        if module in done:
            return
        assert module not in visiting, "import cycle: " + " -> ".join(visiting[visiting.index(module):] + [module])
        visiting.append(module)
        for target in sorted(graph[module]):  # a package's own __init__ included: importing it runs it
            visit(target)
        visiting.pop()
        done.add(module)

    for module in sorted(graph):
        visit(module)


def test_no_import_cycle_when_sampt_is_imported():
    graph = _imports(top_level_only=True)
    assert "sampt.pipeline.sam_pt" in graph and "sampt.config" in graph
    _assert_acyclic(graph)


def test_no_import_cycle_even_through_deferred_imports():
    _assert_acyclic(_imports())


def test_the_pipeline_steps_import_no_torch():
    for path in (ROOT / "pipeline").glob("*.py"):
        tree = ast.parse(path.read_text())
        names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        names |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        assert "torch" not in names, path


def test_an_edge_into_a_package_root_counts_toward_a_cycle():
    """``from sampt import x`` runs ``sampt/__init__``: a module the root imports (even lazily) may not do it."""
    graph = {"sampt": {"sampt.api"}, "sampt.api": {"sampt.results"}, "sampt.results": {"sampt"}}
    with pytest.raises(AssertionError, match="sampt -> sampt.api -> sampt.results -> sampt"):
        _assert_acyclic(graph)


def test_the_version_lives_in_a_leaf_module():
    import sampt._version

    assert sampt.__version__ == sampt._version.__version__
    assert _imports()["sampt._version"] == set()


@pytest.mark.parametrize("old, new, name", [
    ("sampt.interactive.benchmark", "sampt.evaluation.interactive_bench.benchmark", "representative_point"),
    ("sampt.evaluation.metrics", "sampt.evaluation.davis.metrics", "jaccard"),
])
def test_a_moved_module_keeps_its_old_path_with_a_deprecation_warning(old, new, name):
    import importlib

    shim = importlib.import_module(old)
    with pytest.warns(DeprecationWarning, match=f"{old} moved to {new}"):
        moved = getattr(shim, name)
    assert moved is getattr(importlib.import_module(new), name)
    with pytest.raises(AttributeError):
        shim.__no_such_name__


def test_no_private_name_is_imported_across_modules():
    """A name another module needs is public (``parse_value``, ``resize_longest``), not ``_private``."""
    found = []
    for path in ROOT.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sampt"):
                found += [f"{path.relative_to(ROOT)}: {node.module}.{a.name}" for a in node.names
                          if a.name.startswith("_") and not a.name.startswith("__")]
    assert found == []


def test_one_void_label():
    sources = {p: p.read_text() for p in ROOT.rglob("*.py")}
    assert [p.name for p, text in sources.items() if "VOID_LABEL = " in text] == ["labels.py"]


def test_no_module_over_400_lines():
    """Small modules with one job: a file that grows past 400 lines is split by role."""
    long = sorted(str(p.relative_to(ROOT)) for p in ROOT.rglob("*.py") if len(p.read_text().splitlines()) > 400)
    assert long == []
