"""The test suite's own rules: a warning from sampt's code fails, a third party's known one does not, and
the test-only handshake does nothing unless a test asks for it at that very point."""
from __future__ import annotations

import warnings

import pytest

from sampt.testhooks import HANDSHAKE_ENV, handshake


def test_a_warning_from_sampts_own_code_fails_the_test():
    with pytest.raises(UserWarning, match="from sampt"):
        warnings.warn_explicit("from sampt", UserWarning, "sampt/pipeline/tracking.py", 1,
                               module="sampt.pipeline.tracking")
    with pytest.raises(DeprecationWarning):
        warnings.warn_explicit("from a plugin", DeprecationWarning, "sampt_sam/plugin.py", 1, module="sampt_sam.plugin")


def test_known_third_party_warnings_are_filtered():
    with warnings.catch_warnings(record=True) as seen:
        warnings.filterwarnings("always", module="elsewhere")  # only to show an unfiltered one is recorded
        warnings.warn_explicit("old API", DeprecationWarning, "pycocotools/mask.py", 1, module="pycocotools.mask")
        warnings.warn_explicit("shown", UserWarning, "elsewhere.py", 1, module="elsewhere")
    assert [str(w.message) for w in seen] == ["shown"]


def test_the_handshake_is_inert_unless_asked_for_at_that_point(monkeypatch, tmp_path):
    monkeypatch.delenv(HANDSHAKE_ENV, raising=False)
    handshake("mask-written")  # returns at once: no pipe is opened
    missing = tmp_path / "no-such-fifo"
    monkeypatch.setenv(HANDSHAKE_ENV, f"stream-frame@{missing}")
    handshake("mask-written")  # another point: nothing opened either
    monkeypatch.setenv(HANDSHAKE_ENV, f"mask-written#99@{missing}")
    handshake("mask-written")  # not yet its 99th time
    assert not missing.exists()
