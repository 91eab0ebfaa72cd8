"""A non-editable install works away from the checkout: the wheel ships the default configs as package data,
and ``sampt demo`` / ``sampt bench`` find them from any folder."""
from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEPENDENCIES = ("numpy", "cv2", "omegaconf", "yaml", "pluggy", "kmedoids", "tqdm", "scipy", "PIL", "av")


def _dependency_dir(tmp: Path) -> Path:
    """A folder of links to everything installed beside sampt's dependencies except sampt and its plugins, so
    the fresh environment gets the dependencies (without downloading them) but no trace of the checkout."""
    out = tmp / "deps"
    out.mkdir()
    roots = {Path(importlib.util.find_spec(m).origin).resolve().parents[1] for m in DEPENDENCIES}
    for root in roots:
        for entry in root.iterdir():
            name = entry.name.lower()
            if name.startswith(("sampt", "__editable__", "_sampt")) or entry.suffix == ".pth":
                continue
            if not (out / entry.name).exists():
                (out / entry.name).symlink_to(entry)
    return out


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """sampt's wheel, built (offline, by setuptools' PEP 517 backend) from a clean copy of the sources: no
    stale ``build/`` folder of the checkout can hide a file missing from the package."""
    src, out = tmp_path_factory.mktemp("src"), tmp_path_factory.mktemp("wheel")
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    for name in ("sampt", "configs"):
        shutil.copytree(ROOT / name, src / name, ignore=ignore)
    build = ("import sys; from setuptools import build_meta; "
             "print(build_meta.build_wheel(sys.argv[1]))")
    done = subprocess.run([sys.executable, "-c", build, str(out)], cwd=src, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return out / done.stdout.strip().splitlines()[-1]


def test_wheel_ships_every_config(wheel):
    shipped = {n for n in zipfile.ZipFile(wheel).namelist() if n.startswith("sampt/configs/")}
    in_repo = {"sampt/configs/" + p.relative_to(ROOT / "configs").as_posix() for p in (ROOT / "configs").rglob("*.yaml")}
    assert in_repo and shipped == in_repo


def test_installed_sampt_runs_demo_and_bench_from_another_folder(wheel, tmp_path):
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "sampt_test_deps.pth").write_text(f"{_dependency_dir(tmp_path)}\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index",
                    "--quiet", "--disable-pip-version-check", str(wheel)], check=True, timeout=300)
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SAMPT_CONFIG_DIR")}
    where = subprocess.run([str(python), "-c", "import sampt, sampt.config as c; print(sampt.__file__); "
                            "print(c.config_dir())"], cwd=work, env=env, capture_output=True, text=True, timeout=60)
    assert where.returncode == 0, where.stderr
    module, configs = where.stdout.split()
    assert Path(module).is_relative_to(site) and Path(configs) == site / "sampt" / "configs"

    demo = subprocess.run([str(env_dir / "bin" / "sampt"), "demo", "--frames", "4", "--no-progress", "-o", "out",
                           "tracker=lk", "pipeline=fast"], cwd=work, env=env, capture_output=True, text=True,
                          timeout=120)
    assert demo.returncode == 0, demo.stderr
    assert "demo: 2 objects, 4 frames" in demo.stdout and (work / "out" / "result.json").is_file()
    bench = subprocess.run([str(env_dir / "bin" / "sampt"), "bench", "--config", "ci", "--repeats", "1", "--warmup",
                            "0", "--trackers", "lk", "--sequences", "synthetic_000", "--no-plot", "--no-progress",
                            "-o", "b"], cwd=work, env=env, capture_output=True, text=True, timeout=120)
    assert bench.returncode == 0, bench.stderr
    assert (work / "b" / "runs.csv").is_file()


def test_missing_default_configs_name_the_fix(tmp_path, monkeypatch):
    from sampt.config import compose
    from sampt.errors import UsageError

    monkeypatch.setenv("SAMPT_CONFIG_DIR", str(tmp_path))
    with pytest.raises(UsageError, match="reinstall sampt.*SAMPT_CONFIG_DIR"):
        compose([])
