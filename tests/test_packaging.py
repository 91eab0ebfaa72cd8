"""Releases install from wheels alone. The core and every plugin build as a wheel and an sdist (``python -m
build``, offline, the wheel built from the sdist so a file missing from the sdist fails here), pass ``twine
check``, carry one version each from one place and declare the sampt versions they work with; the wheels,
installed into a fresh virtual environment with ``pip --no-index --find-links`` (no source tree), run
``sampt demo``, ``sampt bench``, ``sampt plugins`` and a model plugin with keyed weights, from another folder.
The wheel ships the default configs as package data, so an installed sampt has its defaults wherever it runs.
"""
from __future__ import annotations

import ast
import os
import re
import shutil
import site
import subprocess
import sys
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
PLUGINS = sorted(p for p in (ROOT / "plugins").glob("sampt-*") if (p / "pyproject.toml").is_file())
PROJECTS = [ROOT, *PLUGINS]
CLEAN = shutil.ignore_patterns("__pycache__", "*.egg-info", "build", "dist", "tests", ".venv", ".cache")


def _project(path: Path) -> dict:
    return tomllib.loads((path / "pyproject.toml").read_text())["project"]


def _package_dir(path: Path) -> Path:
    return path / ("sampt" if path == ROOT else path.name.replace("-", "_"))


def _written_version(path: Path) -> str:
    """The version as written in the project's ``_version.py``, its one place."""
    tree = ast.parse((_package_dir(path) / "_version.py").read_text())
    return next(n.value.value for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == "__version__")


def _dist_name(path: Path) -> str:
    return _project(path)["name"].replace("-", "_")


def _dependency_dir(tmp: Path) -> Path:
    """A folder of links to everything installed where this interpreter looks (torch, numpy, segment-anything,
    ...) except sampt, its plugins and editable-install hooks: the fresh environment gets the third-party
    dependencies without downloading them, and no trace of the checkout."""
    out = tmp / "deps"
    out.mkdir()
    roots = [Path(p) for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()]
    for root in dict.fromkeys(roots + [Path(p) for p in site.getsitepackages()]):
        for entry in root.iterdir() if root.is_dir() else ():
            name = entry.name.lower()
            if name.startswith(("sampt", "_sampt", "__editable__")) or entry.suffix == ".pth":
                continue
            if not (out / entry.name).exists():
                (out / entry.name).symlink_to(entry)
    return out


@pytest.fixture(scope="module")
def dists(tmp_path_factory) -> Path:
    """Every distribution's sdist and wheel, built offline from a clean copy of its sources (no stale
    ``build/`` of the checkout can hide a file missing from the package)."""
    out = tmp_path_factory.mktemp("dist")
    for project in PROJECTS:
        src = tmp_path_factory.mktemp("src") / project.name
        if project == ROOT:
            src.mkdir()
            for name in ("pyproject.toml", "setup.py", "README.md"):
                shutil.copy2(ROOT / name, src / name)
            for name in ("sampt", "configs"):
                shutil.copytree(ROOT / name, src / name, ignore=CLEAN)
        else:
            shutil.copytree(project, src, ignore=CLEAN)
        done = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(src)],
                              capture_output=True, text=True, timeout=600, env={**os.environ, "SAM2_BUILD_CUDA": "0"})
        assert done.returncode == 0, f"{project.name}: {done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return out


@pytest.fixture(scope="module")
def wheel(dists) -> Path:
    return next(dists.glob(f"sampt-{_written_version(ROOT)}-*.whl"))


@pytest.fixture(scope="module")
def env(dists, tmp_path_factory) -> dict:
    """A fresh virtual environment with every wheel installed from ``dists`` alone (``--no-index``); its
    third-party dependencies come from this interpreter's site-packages through a ``.pth`` file."""
    tmp = tmp_path_factory.mktemp("venv")
    env_dir = tmp / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    purelib = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                  capture_output=True, text=True, check=True).stdout.strip())
    (purelib / "sampt_test_deps.pth").write_text(f"{_dependency_dir(tmp)}\n")
    names = [_project(p)["name"] for p in PROJECTS]
    done = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-index", "--find-links",
                           str(dists), "--only-binary", ":all:", "--quiet", "--disable-pip-version-check", *names],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    work = tmp / "elsewhere"
    work.mkdir()
    variables = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SAMPT_CONFIG_DIR")}
    variables.update(SAMPT_CACHE_DIR=str(tmp / "cache"), SAMPT_OFFLINE="1")
    return {"python": python, "bin": env_dir / "bin", "site": purelib, "work": work, "env": variables}


def _run(env: dict, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([str(env["bin"] / "sampt"), *args], cwd=env["work"], env=env["env"], capture_output=True,
                          text=True, timeout=timeout)


def test_every_distribution_builds_a_wheel_and_an_sdist_that_pass_twine_check(dists):
    for project in PROJECTS:
        stem = f"{_dist_name(project)}-{_written_version(project)}"
        assert list(dists.glob(f"{stem}-*.whl")) and (dists / f"{stem}.tar.gz").is_file(), stem
    done = subprocess.run([sys.executable, "-m", "twine", "check", "--strict", *map(str, sorted(dists.iterdir()))],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]


def test_each_version_is_written_once_and_plugins_declare_the_sampt_versions_they_work_with(dists):
    core_version = _written_version(ROOT)
    for project in PROJECTS:
        assert "version" not in _project(project) and "version" in _project(project)["dynamic"], project.name
        version = _written_version(project)
        wheel_file = next(dists.glob(f"{_dist_name(project)}-{version}-*.whl"))
        metadata = zipfile.ZipFile(wheel_file).read(f"{_dist_name(project)}-{version}.dist-info/METADATA").decode()
        assert f"\nVersion: {version}\n" in metadata
        if project != ROOT:  # the sampt versions it works with: a range that holds this sampt, bounded above
            declared = [Requirement(line.split(":", 1)[1]) for line in metadata.splitlines()
                        if line.startswith("Requires-Dist:")]
            sampt_req = next(r for r in declared if r.name == "sampt")
            assert core_version in sampt_req.specifier, f"{project.name}: {sampt_req} excludes sampt {core_version}"
            assert any(s.operator in ("<", "<=", "~=", "==") for s in sampt_req.specifier), \
                f"{project.name}: bound sampt above ({sampt_req}): a later sampt may change the plugin interfaces"


def test_wheel_ships_every_config(wheel):
    shipped = {n for n in zipfile.ZipFile(wheel).namelist() if n.startswith("sampt/configs/")}
    in_repo = {"sampt/configs/" + p.relative_to(ROOT / "configs").as_posix() for p in (ROOT / "configs").rglob("*.yaml")}
    assert in_repo and shipped == in_repo


@pytest.mark.slow  # builds six distributions and a virtual environment (shared by the tests below)
def test_installed_sampt_runs_demo_and_bench_from_another_folder(env):
    where = subprocess.run([str(env["python"]), "-c", "import sampt, sampt.config as c; print(sampt.__file__); "
                            "print(c.config_dir())"], cwd=env["work"], env=env["env"], capture_output=True,
                           text=True, timeout=60)
    assert where.returncode == 0, where.stderr
    module, configs = where.stdout.split()
    assert Path(module).is_relative_to(env["site"]) and Path(configs) == env["site"] / "sampt" / "configs"

    demo = _run(env, "demo", "--frames", "4", "--no-progress", "-o", "out", "tracker=lk", "pipeline=fast")
    assert demo.returncode == 0, demo.stderr
    assert "demo: 2 objects, 4 frames" in demo.stdout and (env["work"] / "out" / "result.json").is_file()
    bench = _run(env, "bench", "--config", "ci", "--repeats", "1", "--warmup", "0", "--trackers", "lk", "--sequences",
                 "synthetic_000", "--no-plot", "--no-progress", "-o", "b")
    assert bench.returncode == 0, bench.stderr
    assert (env["work"] / "b" / "runs.csv").is_file()


@pytest.mark.slow
def test_installed_plugins_are_listed_from_their_wheels(env):
    listing = _run(env, "plugins")
    assert listing.returncode == 0, listing.stderr
    for project in PLUGINS:
        assert re.search(rf"^{re.escape(_project(project)['name'])}:\S+ {re.escape(_written_version(project))}( \(plugin API [0-9.]+\))?$",
                         listing.stdout, re.M), f"{project.name} not listed:\n{listing.stdout}"
    files = subprocess.run([str(env["python"]), "-c", "import sampt_pips, sampt_sam; print(sampt_pips.__file__); "
                            "print(sampt_sam.__file__)"], cwd=env["work"], env=env["env"], capture_output=True,
                           text=True, timeout=120)
    assert files.returncode == 0, files.stderr
    assert all(Path(f).is_relative_to(env["site"]) for f in files.stdout.split())  # not the checkout's


@pytest.mark.slow
def test_installed_model_plugin_runs_with_keyed_weights(env):
    """PIPS (``sampt-pips``) through ``sampt bench`` with keyed weights standing in for the checkpoint that
    the empty, offline cache does not have: the plugin's model is built, loaded and run end to end."""
    config = env["work"] / "keyed.yaml"
    config.write_text("dataset: {name: synthetic, split: val, synthetic: {num_clips: 1, seed: 0, num_frames: 4, "
                      "height: 48, width: 64}}\ngrid: {tracker: [pips], segmenter: [grabcut]}\n"
                      "overrides: [pipeline=fast, 'tracker.resolution=[64,64]', tracker.iters=1, pipeline.positive_points=4]\n"
                      "weights: keyed_if_missing\n"
                      "force_visible: true\nrepeats: 1\nwarmup: 0\nseed: 0\n")
    bench = _run(env, "bench", "--config", str(config), "--no-plot", "--no-progress", "-o", "keyed", timeout=600)
    assert bench.returncode == 0, bench.stderr[-3000:]
    rows = (env["work"] / "keyed" / "runs.csv").read_text().splitlines()
    assert len(rows) == 2 and rows[1].startswith("pips+grabcut,") and ",keyed," in rows[1]


def test_missing_default_configs_name_the_fix(tmp_path, monkeypatch):
    from sampt.config import compose
    from sampt.errors import UsageError

    monkeypatch.setenv("SAMPT_CONFIG_DIR", str(tmp_path))
    with pytest.raises(UsageError, match="reinstall sampt.*SAMPT_CONFIG_DIR"):
        compose([])
