"""glibc malloc tuning: applied once, in a fresh process, respecting the user's environment."""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

import pytest

_PROBE = "import json, sampt.allocator as a; print(json.dumps([a.tune_malloc(), a.tune_malloc()]))"


def _probe(**env) -> list:
    out = subprocess.run([sys.executable, "-c", _PROBE], env={**os.environ, **env}, capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc-only tuning (a no-op elsewhere, tested below)")
def test_thresholds_set_on_glibc_and_user_settings_kept():
    first, again = _probe()
    assert first == again == {"mmap_threshold": 32 * 1024 * 1024, "trim_threshold": 256 * 1024 * 1024}
    assert _probe(MALLOC_TRIM_THRESHOLD_="1000000")[0] == {"mmap_threshold": 32 * 1024 * 1024}


def test_disabled_by_environment_or_off_glibc(monkeypatch):
    assert _probe(SAMPT_MALLOC_TUNING="0")[0] == {}
    import sampt.allocator as allocator

    monkeypatch.setattr(allocator, "_applied", None)
    monkeypatch.setattr(allocator.platform, "libc_ver", lambda: ("musl", ""))
    assert allocator.tune_malloc() == {}
