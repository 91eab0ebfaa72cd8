"""The documentation site: ``mkdocs build --strict`` passes (any warning fails it: a broken internal link or
anchor, a docstring mkdocstrings cannot read, a page missing from the navigation), the command-line and
configuration pages are generated from the code and cover every command and every option, and the three
tutorial notebooks run, committed with their outputs stripped."""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sampt.testing import repo_root

ROOT = repo_root()
NOTEBOOKS = sorted((ROOT / "docs" / "tutorials").glob("*.ipynb"))


def _reference_hook():
    spec = importlib.util.spec_from_file_location("sampt_docs_reference", ROOT / "docs" / "hooks" / "reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow  # the whole site, API pages and notebooks rendered (~30 s on 2 busy cores)
def test_site_builds_strict_with_generated_pages(tmp_path):
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file",
                           str(ROOT / "mkdocs.yml"), "--site-dir", str(site)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-5000:]
    assert [p.name for p in tmp_path.iterdir()] == ["site"]  # no cache or other file beside the site
    for page in ("index", "getting-started", "concepts", "usage", "api", "plugins", "datasets-benchmarks", "ui",
                 "releases", "about", "tutorials/01-segment-from-clicks", "tutorials/02-tracker-plugin",
                 "tutorials/03-bench-pareto"):
        assert (site / page / "index.html").is_file() or (site / f"{page}.html").is_file(), page
    api = (site / "api" / "index.html").read_text()
    assert "Segment objects through a video in one call" in api  # sampt.segment's docstring, rendered

    from sampt.cli import build_parser

    hook = _reference_hook()
    cli = (site / "cli" / "index.html").read_text()
    commands = build_parser(hook.core_registry())._subparsers._group_actions[0].choices
    assert {"run", "demo", "bench", "eval", "score", "ui"} <= set(commands)
    for name, command in commands.items():
        assert f'id="sampt-{name}"' in cli, name
        for action in command._actions:
            for flag in action.option_strings:
                assert flag in cli, f"sampt {name} {flag}"


def test_configuration_page_lists_every_component_option_with_its_range():
    from sampt.plugins import KINDS, Registry

    page = _reference_hook().configuration_page()
    registry = Registry()
    for kind in KINDS:
        for name in registry.names(kind):
            entry = registry.entry(kind, name)
            section = page.split(f"### {kind} `{name}`\n", 1)[1].split("\n### ", 1)[0]
            for option in entry.parameters():
                assert f"| `{option}` |" in section, f"{kind} {name}: {option}"
    assert "| `window_size` | int | `15` | >= 3 |" in page                 # lk's, with its declared range
    assert "| `iou_threshold` | float | `0.7` | in [0, 1] |" in page       # SamPtOptions'


def test_generated_pages_are_not_committed():
    for name in _reference_hook().GENERATED:
        assert not (ROOT / "docs" / name).exists(), f"docs/{name} is generated at build time: remove it"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_committed_without_outputs(path):
    notebook = json.loads(path.read_text())
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, f"{path.name}: strip the outputs"


@pytest.mark.slow  # each starts a kernel; the three together ~45 s on 2 busy cores
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_tutorial_runs(path, tmp_path):
    import nbformat
    from nbclient import NotebookClient

    assert len(NOTEBOOKS) == 3
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=180, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})  # the kernel runs in tmp_path
    client.execute(env={**os.environ, "MPLBACKEND": "Agg"})  # nbclient shuts the kernel down, failed or not
    errors = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    assert any(o.get("output_type") == "stream" for c in notebook.cells if c.cell_type == "code" for o in c.outputs)
