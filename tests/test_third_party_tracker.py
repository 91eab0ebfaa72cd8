"""A third-party tracker written from the README alone (tests/third_party/sampt-drift): one class, one
entry point; it is discovered, configured, run by the pipeline, and gets query validation for free."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from sampt.config import build_pipeline, compose
from sampt.data.synthetic import make_clip
from sampt.pipeline import ObjectPrompt
from sampt.plugins import Registry

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PACKAGE = Path(__file__).parent / "third_party" / "sampt-drift"


@pytest.fixture
def drift(tmp_path, monkeypatch):
    """Install the package as pip would for discovery: its folder on the path, and a .dist-info whose
    entry points are the ones its pyproject.toml declares."""
    project = tomllib.loads((PACKAGE / "pyproject.toml").read_text())["project"]
    info = tmp_path / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n")
    points = project["entry-points"]["sampt"]
    (info / "entry_points.txt").write_text("[sampt]\n" + "".join(f"{k} = {v}\n" for k, v in points.items()))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.syspath_prepend(str(PACKAGE))
    yield
    for name in [m for m in sys.modules if m == "sampt_drift" or m.startswith("sampt_drift.")]:
        del sys.modules[name]


def test_readme_tracker_is_discovered_configured_and_run(drift):
    registry = Registry()
    assert registry.entry("tracker", "drift").plugin == "sampt-drift:drift"
    cfg = compose(["tracker=drift", "tracker.dx=0.5", "pipeline.refinement_iterations=1"], registry=registry)
    pipeline = build_pipeline(cfg, registry)
    clip = make_clip(seed=1, num_frames=4, height=48, width=64, num_objects=1)
    result = pipeline.run(clip.video, [ObjectPrompt(1, 1, mask=clip.masks[1, 0])])
    q = result.queries[0].points
    np.testing.assert_allclose(result.tracks[0].points[3], q + [1.0, 0.0], atol=1e-5)  # two frames on
    np.testing.assert_allclose(result.tracks[0].points[0], q - [0.5, 0.0], atol=1e-5)  # one frame back
    assert result.encoder_calls == 4


@pytest.mark.parametrize("queries, message", [
    ([[0, 70.0, 5.0]], "outside the 64x48 frame"),
    ([[4, 5.0, 5.0]], "query starts at frame 4 but the video has 4 frames"),
    ([[0, np.nan, 5.0]], "NaN"),
    ([[0.5, 5.0, 5.0]], "non-negative integers"),
    ([[5.0, 5.0]], r"\(N, 3\)"),
])
def test_readme_tracker_gets_query_validation_for_free(drift, queries, message):
    tracker = Registry().create("tracker", "drift")
    video = make_clip(seed=1, num_frames=4, height=48, width=64, num_objects=1).video
    calls = type(tracker).calls
    with pytest.raises(ValueError, match=message):
        tracker.track(video, np.array(queries, np.float32))
    empty = tracker.track(video, np.zeros((0, 3), np.float32))
    assert empty.points.shape == (4, 0, 2) and empty.visibility.shape == (4, 0)
    assert type(tracker).calls == calls  # neither bad nor zero queries reached the plugin's code
