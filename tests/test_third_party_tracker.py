"""A third-party tracker written from the README alone (tests/third_party/sampt-drift): one class, one
entry point; it is discovered, configured, run by the pipeline, and gets query validation for free."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pytest

from sampt.config import build_pipeline, compose
from sampt.data.synthetic import make_clip
from sampt.pipeline import ObjectPrompt
import sampt
from sampt.plugins import Registry, UnknownComponentError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

THIRD_PARTY = Path(__file__).parent / "third_party"


def install(package: Path, root: Path, monkeypatch, declared: str = "") -> str:
    """Install ``package`` as pip would for discovery: its folder on the path, and a .dist-info under
    ``root`` whose entry points are the ones its pyproject.toml declares (``declared``: a copy of the
    package under ``root`` whose plugin module declares that plugin API version instead). Returns the
    module name."""
    project = tomllib.loads((package / "pyproject.toml").read_text())["project"]
    module = project["name"].replace("-", "_")
    info = root / f"{module}-{project['version']}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n")
    points = project["entry-points"]["sampt"]
    (info / "entry_points.txt").write_text("[sampt]\n" + "".join(f"{k} = {v}\n" for k, v in points.items()))
    monkeypatch.syspath_prepend(str(root))
    if declared:
        (root / module).mkdir()
        source = (package / module / "__init__.py").read_text()
        (root / module / "__init__.py").write_text(f"{source}\nSAMPT_PLUGIN_API = {declared!r}\n")
    else:
        monkeypatch.syspath_prepend(str(package))
    return module


def forget(module: str) -> None:
    for name in [m for m in sys.modules if m == module or m.startswith(module + ".")]:
        del sys.modules[name]


@pytest.fixture
def drift(tmp_path, monkeypatch):
    module = install(THIRD_PARTY / "sampt-drift", tmp_path, monkeypatch)
    yield
    forget(module)


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


@pytest.fixture
def stepper(tmp_path, monkeypatch):
    """sampt-stepper: a tracker written for plugin API 1, overriding ``track`` instead of ``_track``."""
    module = install(THIRD_PARTY / "sampt-stepper", tmp_path, monkeypatch)
    yield
    forget(module)


def test_tracker_written_for_plugin_api_1_works_with_a_deprecation_warning(stepper, capsys):
    with pytest.warns(DeprecationWarning, match=r"StepTracker overrides Tracker.track .*rename its track method to _track"):
        registry = Registry()  # loading the plugin defines the class, which the base class adapts
        tracker = registry.create("tracker", "stepper")
    video = make_clip(seed=1, num_frames=4, height=48, width=64, num_objects=1).video
    tracks = tracker.track(video, np.array([[1, 5.0, 6.0]], np.float32))
    np.testing.assert_allclose(tracks.points[:, 0], [[5, 6], [5, 6], [6, 6], [7, 6]])
    calls = type(tracker).calls
    with pytest.raises(ValueError, match="outside the 64x48 frame"):  # the base class validates for it now
        tracker.track(video, np.array([[0, 70.0, 5.0]], np.float32))
    assert tracker.track(video, np.zeros((0, 3), np.float32)).points.shape == (4, 0, 2)
    assert type(tracker).calls == calls

    cfg = compose(["tracker=stepper", "pipeline.refinement_iterations=1"], registry=registry)
    clip = make_clip(seed=1, num_frames=4, height=48, width=64, num_objects=1)
    result = build_pipeline(cfg, registry).run(clip.video, [ObjectPrompt(1, 0, mask=clip.masks[0, 0])])
    np.testing.assert_allclose(result.tracks[0].points[3], result.queries[0].points + [3.0, 0.0], atol=1e-5)

    from sampt.cli import main

    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert "sampt-stepper:stepper 0.0.9 (plugin API 1.0)" in out
    assert 'DEPRECATED: written for sampt plugin API 1.0 (deprecated, adapted): port it to 2.0' in out


@pytest.mark.parametrize("declared, reason", [
    ("9.0", r"written for sampt plugin API 9.0, this sampt provides 2.0; upgrade sampt"),
    ("2.99", r"written for sampt plugin API 2.99, this sampt provides 2.0; upgrade sampt"),
    ("0.1", r"written for sampt plugin API 0.1, which sampt 2.0 no longer supports"),
    ("two", r"declares SAMPT_PLUGIN_API = 'two', not a 'major.minor' version; fix the plugin"),
])
def test_plugin_for_another_api_is_listed_incompatible_before_any_run(tmp_path, monkeypatch, capsys, declared, reason):
    module = install(THIRD_PARTY / "sampt-drift", tmp_path, monkeypatch, declared=declared)
    try:
        registry = Registry()
        assert "drift" not in registry.names("tracker")
        assert [p.distribution for p in registry.incompatible] == ["sampt-drift"]
        with pytest.raises(UnknownComponentError, match="1 installed plugin.* not loaded: their plugin API version"):
            registry.entry("tracker", "drift")
        from sampt.cli import main

        assert main(["plugins"]) == 0
        lines = [line for line in capsys.readouterr().out.splitlines() if "INCOMPATIBLE" in line]
        assert len(lines) == 1 and re.search(f"^sampt-drift:drift INCOMPATIBLE: {reason}", lines[0])
    finally:
        forget(module)


def test_plugin_declaring_the_current_api_loads_quietly(tmp_path, monkeypatch, recwarn):
    module = install(THIRD_PARTY / "sampt-drift", tmp_path, monkeypatch, declared=sampt.PLUGIN_API_VERSION)
    try:
        registry = Registry()
        info = registry.plugins["sampt-drift:drift"]
        assert (info.api, info.note) == (sampt.PLUGIN_API_VERSION, "")
        registry.create("tracker", "drift")
        assert not [w for w in recwarn if issubclass(w.category, DeprecationWarning)]
    finally:
        forget(module)
