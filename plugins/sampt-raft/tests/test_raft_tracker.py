"""The RAFT tracker's checkpoints, options and command-line use, with keyed weights on tiny clips."""
import json
import zipfile

import numpy as np
import pytest
import torch

from sampt.testing import keyed_state_dict
from sampt.weights import WeightsError


def _prefixed(name):
    return {f"module.{k}": v for k, v in keyed_state_dict(name).items()}


def test_published_layout_plain_state_dict_and_models_zip_all_load(tmp_path):
    from sampt_raft.tracker import RaftTracker

    plain = tmp_path / "plain.pth"
    torch.save(keyed_state_dict("raft_small"), plain)
    a = RaftTracker(checkpoint=str(plain), device="cpu", variant="raft_small").model.state_dict()
    archive = tmp_path / "models.zip"  # the official download: every checkpoint under models/
    torch.save(_prefixed("raft_small"), tmp_path / "raft-small.pth")
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(tmp_path / "raft-small.pth", "models/raft-small.pth")
    b = RaftTracker(checkpoint=str(archive), device="cpu", variant="raft_small").model.state_dict()
    assert (tmp_path / "models.zip.raft-small.pth").is_file()  # extracted once, beside the archive
    assert list(a) == list(b) and all(torch.equal(a[k], b[k]) for k in a)


def test_wrong_variant_and_missing_member_are_clear_errors(tmp_path):
    from sampt_raft.tracker import RaftTracker

    small = tmp_path / "raft-small.pth"
    torch.save(_prefixed("raft_small"), small)
    with pytest.raises(WeightsError, match="does not match RAFT \\(raft\\)"):
        RaftTracker(checkpoint=str(small), device="cpu", variant="raft")
    archive = tmp_path / "other.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(small, "models/raft-small.pth")
    with pytest.raises(WeightsError, match="has no models/raft-things.pth"):
        RaftTracker(checkpoint=str(archive), device="cpu", variant="raft")
    with pytest.raises(ValueError, match="unknown RAFT variant"):
        RaftTracker(checkpoint=str(small), device="cpu", variant="raft_huge")


def test_known_checkpoint_missing_from_cache_gets_keyed_weights_in_benchmarks(tmp_path, monkeypatch):
    from sampt.keyed import keyed_weights_if_missing
    from sampt_raft.tracker import RaftTracker

    monkeypatch.setenv("SAMPT_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("SAMPT_OFFLINE", "1")
    with keyed_weights_if_missing() as record:
        tracker = RaftTracker(device="cpu", variant="raft_small")
    assert record.used == ["RAFT (raft_small)"]
    from sampt.testing import keyed_state, manifest_of
    from sampt_raft.model_raft import RaftCheckpoint

    state = tracker.model.state_dict()  # keyed by the published files' names ('module.*')
    ref = keyed_state(manifest_of(RaftCheckpoint(small=True)))
    assert len(ref) == len(state) and all(torch.equal(state[k], ref["module." + k]) for k in state)
    with pytest.raises(WeightsError, match="SAMPT_OFFLINE"):  # outside a benchmark: no silent stand-in
        RaftTracker(device="cpu", variant="raft_small")


def test_small_frames_are_padded_to_finite_flow():
    """Below 128 px per side the official code's coarsest correlation level has one cell (NaN flow);
    sampt pads further, so a 40x56 clip tracks to finite positions."""
    from sampt_raft.model_raft import MIN_PADDED_SIDE, Raft, pad_to_multiple

    padded, pad = pad_to_multiple(torch.zeros(1, 3, 40, 56))
    assert padded.shape[-2:] == (MIN_PADDED_SIDE, MIN_PADDED_SIDE) and pad == (36, 36, 44, 44)
    assert pad_to_multiple(torch.zeros(1, 3, 124, 132))[1] == (2, 2, 2, 2)  # the official padding
    model = Raft(small=True)
    model.load_state_dict(keyed_state_dict("raft_small"))
    with torch.no_grad():
        flow = model(padded, padded.flip(-1), iters=1)
    assert torch.isfinite(flow).all()


@pytest.mark.parametrize("name", ["raft_small"])
def test_cli_run_with_a_checkpoint_path(tmp_path, name):
    from sampt.cli import main
    from sampt.testing import write_clip_inputs

    frames, mask, _ = write_clip_inputs(tmp_path, seed=1, num_frames=3, height=48, width=64)
    ckpt = tmp_path / f"{name}.pth"
    torch.save(_prefixed(name), ckpt)
    out = tmp_path / "out"
    code = main(["run", str(frames), f"tracker={name}", f"tracker.checkpoint={ckpt}", "tracker.device=cpu",
                 "tracker.iters=1", "segmenter=grabcut", "--mask", str(mask), "--output", str(out),
                 "--no-progress", "--no-overlay"])
    assert code == 0
    assert len(sorted((out / "masks").glob("*/*.png"))) == 3
    summary = json.loads((out / "result.json").read_text())
    assert summary["config"]["tracker"]["name"] == name


def test_single_frame_and_last_frame_queries(tmp_path):
    """One frame: no flow, points stay put. Queries on the last frame only: tracked backwards alone."""
    from sampt.types import Video
    from sampt_raft.tracker import RaftTracker

    ckpt = tmp_path / "raft_small.pth"
    torch.save(_prefixed("raft_small"), ckpt)
    tracker = RaftTracker(checkpoint=str(ckpt), device="cpu", variant="raft_small", iters=1)
    frames = np.random.default_rng(0).integers(0, 256, (2, 32, 40, 3), dtype=np.uint8)
    one = tracker.track(Video(frames[:1]), np.array([[0, 3.0, 4.0]], np.float32))
    assert one.points.tolist() == [[[3.0, 4.0]]] and one.visibility.all()
    last = tracker.track(Video(frames), np.array([[1, 39.0, 31.0], [1, 10.0, 10.0]], np.float32))
    np.testing.assert_array_equal(last.points[1], [[39.0, 31.0], [10.0, 10.0]])
    assert np.isfinite(last.points).all() and not np.array_equal(last.points[0], last.points[1])
