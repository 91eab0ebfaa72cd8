"""Repository-wide pytest hooks: tests that need a real checkpoint or a GPU are skipped, with the reason,
where those are not available (the same markers in sampt's and every plugin's tests)."""
from __future__ import annotations

import os

import pytest


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def pytest_collection_modifyitems(config, items):
    real = os.environ.get("SAMPT_REAL_CHECKPOINTS", "") not in ("", "0")
    cuda = None
    for item in items:
        if "checkpoint" in item.keywords and not real:
            item.add_marker(pytest.mark.skip(reason="needs real pretrained checkpoints: set SAMPT_REAL_CHECKPOINTS=1 "
                                                    "with the files in $SAMPT_CACHE_DIR"))
        if "gpu" in item.keywords:
            if cuda is None:
                cuda = _cuda_available()
            if not cuda:
                item.add_marker(pytest.mark.skip(reason="needs a CUDA device"))
