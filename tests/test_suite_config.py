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


def test_keyed_weights_read_back_from_the_run_cache_are_bit_identical(tmp_path, monkeypatch):
    torch = pytest.importorskip("torch")
    from sampt import testing

    tiny = {"enc.weight": {"shape": [3, 4]}, "enc.bias": {"shape": [3]},
            "bn.num_batches_tracked": {"shape": [], "dtype": "int64"}, "half.scale": {"shape": [2], "dtype": "float16"}}
    monkeypatch.setattr(testing, "manifest", lambda name: tiny)
    monkeypatch.delenv(testing.KEYED_CACHE_ENV, raising=False)
    drawn = testing.keyed_state_dict("tiny", seed=3)
    monkeypatch.setenv(testing.KEYED_CACHE_ENV, str(tmp_path))
    first = testing.keyed_state_dict("tiny", seed=3)  # drawn and stored
    stored = [p.name for p in tmp_path.iterdir()]
    second = testing.keyed_state_dict("tiny", seed=3)  # read back
    assert len(stored) == 1 and stored[0].startswith("tiny-3-") and stored[0].endswith(".npz")
    for state in (first, second):
        assert list(state) == list(tiny)
        assert all(torch.equal(state[k], drawn[k]) and state[k].dtype == drawn[k].dtype for k in tiny)
    assert testing.keyed_state_dict("tiny", seed=4)["enc.weight"].ne(drawn["enc.weight"]).any()  # seed in the key
