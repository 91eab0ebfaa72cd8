"""Repository-wide pytest hooks: tests that need a real checkpoint or a GPU are skipped, with the reason,
where those are not available (the same markers in sampt's and every plugin's tests); under pytest-xdist,
``serial`` tests share one worker (with ``--dist loadgroup``) and each worker's math libraries get their
share of the cores instead of all of them; keyed weights are drawn once per run (`$SAMPT_KEYED_CACHE`, a
folder shared by the workers and removed at the end)."""
from __future__ import annotations

import os
import shutil
import tempfile

import pytest


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def pytest_configure(config):
    from sampt.testing import KEYED_CACHE_ENV

    if not hasattr(config, "workerinput") and KEYED_CACHE_ENV not in os.environ:
        # keyed weights drawn once per run, shared by the xdist workers (which inherit the variable)
        config._sampt_keyed_cache = tempfile.mkdtemp(prefix="sampt-keyed-")
        os.environ[KEYED_CACHE_ENV] = config._sampt_keyed_cache
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    if workers > 1:  # N workers each using every core for torch/OpenMP would only fight over them
        threads = str(max(1, (os.cpu_count() or 1) // workers))
        for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            os.environ.setdefault(name, threads)


def pytest_unconfigure(config):
    folder = getattr(config, "_sampt_keyed_cache", None)
    if folder:
        shutil.rmtree(folder, ignore_errors=True)
        os.environ.pop("SAMPT_KEYED_CACHE", None)


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(config, items):
    real = os.environ.get("SAMPT_REAL_CHECKPOINTS", "") not in ("", "0")
    cuda = None
    xdist = config.pluginmanager.hasplugin("xdist")
    for item in items:
        if "serial" in item.keywords and xdist:
            item.add_marker(pytest.mark.xdist_group("serial"))
        if "checkpoint" in item.keywords and not real:
            item.add_marker(pytest.mark.skip(reason="needs real pretrained checkpoints: set SAMPT_REAL_CHECKPOINTS=1 "
                                                    "with the files in $SAMPT_CACHE_DIR"))
        if "gpu" in item.keywords:
            if cuda is None:
                cuda = _cuda_available()
            if not cuda:
                item.add_marker(pytest.mark.skip(reason="needs a CUDA device"))


@pytest.fixture(autouse=True)
def _own_working_directory(tmp_path_factory, monkeypatch):
    """Every test runs in an empty folder of its own, wherever pytest was started: a default output
    (``sampt-output/...``) lands there, never in the checkout (where ``sampt demo`` may have written) nor
    beside another worker's."""
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))
