"""Configuration composition and validation; plugin discovery through entry points."""
from __future__ import annotations

import textwrap

import numpy as np
import pytest

from sampt.config import build_pipeline, compose
from sampt.data.synthetic import make_clip
from sampt.errors import UsageError
from sampt.pipeline import ObjectPrompt
from sampt.plugins import Registry, UnknownComponentError


def test_defaults_and_overrides():
    cfg = compose([])
    assert cfg.tracker.name == "lk" and cfg.segmenter.name == "grabcut" and cfg.pipeline.positive_points == 16
    cfg = compose(["tracker=flow", "tracker.fb_threshold=2.5", "pipeline.positive_points=8", "seed=4",
                   "pipeline.max_other_negatives=3"])
    assert cfg.tracker.name == "flow" and cfg.tracker.preset == "medium" and cfg.tracker.fb_threshold == 2.5
    assert cfg.pipeline.positive_points == 8 and cfg.seed == 4 and cfg.pipeline.max_other_negatives == 3
    pipeline = build_pipeline(cfg)
    assert pipeline.tracker.fb_threshold == 2.5 and pipeline.options.positive_points == 8 and pipeline.seed == 4


def test_pipeline_presets():
    cfg = compose(["pipeline=reinit", "pipeline.reinit_horizon=12", "pipeline.reinit_tracker_horizon=16"])
    assert cfg.pipeline.reinit_variant == "horizon_sync" and cfg.pipeline.reinit_horizon == 12
    assert compose(["pipeline=reference"]).pipeline.reference_box is True
    with pytest.raises(UsageError, match="known presets: .*paper"):
        compose(["pipeline=nope"])


@pytest.mark.parametrize("overrides, message", [
    (["pipeline.positiv_points=8"], "positiv_points"),
    (["pipeline.positive_points=many"], "positive_points"),
    (["tracker.window=9"], r"tracker\.window does not exist .*window_size"),
    (["tracker.window_size=big"], r"tracker\.window_size='big' has the wrong type; expected int"),
    (["tracker=nosuch"], r"unknown tracker 'nosuch'; known trackers: .*flow.*lk"),
    (["segmenter=nosuch"], r"known segmenters: .*grabcut"),
    (["nosuch.key=1"], "config key 'nosuch.key' does not exist"),
    (["seed=abc"], "seed"),
    (["positive_points"], "not KEY=VALUE"),
])
def test_config_errors_name_the_key(overrides, message):
    with pytest.raises(UsageError, match=message):
        compose(overrides)


def test_out_of_range_pipeline_values_are_errors():
    with pytest.raises(UsageError, match=r"positive_points=0 is out of range: it must be >= 1"):
        build_pipeline(compose(["pipeline.positive_points=0"]))
    with pytest.raises(UsageError, match="reinit_tracker_horizon"):
        build_pipeline(compose(["pipeline=reinit", "pipeline.reinit_tracker_horizon=4"]))


def test_registry_lists_builtins_and_rejects_unknown_names():
    registry = Registry()
    assert {"lk", "flow"} <= set(registry.names("tracker"))
    assert {"random", "kmedoids", "shi_tomasi", "mixed"} <= set(registry.names("sampler"))
    assert registry.entry("tracker", "lucas_kanade").name == "lk"  # alias
    with pytest.raises(UnknownComponentError, match="known segmenters: .*grabcut"):
        registry.create("segmenter", "sam_vit_x")
    with pytest.raises(UnknownComponentError, match="tracker.window does not exist for tracker 'lk'; its options are: window_size"):
        registry.create("tracker", "lk", window=3)
    assert all(info.version for label, info in registry.plugins.items() if label.startswith("sampt:"))


def _install_fake_distribution(root, name, module_source, entry_point):
    """Lay out an installed distribution (package + .dist-info with an entry point) under ``root``."""
    package = root / name.replace("-", "_")
    package.mkdir()
    (package / "__init__.py").write_text(textwrap.dedent(module_source))
    info = root / f"{name.replace('-', '_')}-0.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.3\n")
    (info / "entry_points.txt").write_text(f"[sampt]\n{entry_point} = {name.replace('-', '_')}\n")


THIRD_PARTY_PLUGIN = """
    import numpy as np
    import sampt
    from sampt import Tracker, TrackerCapabilities, Tracks


    class StillTracker(Tracker):
        \"\"\"A third party's tracker: every point stays where it was queried.\"\"\"

        capabilities = TrackerCapabilities()
        calls = 0

        def __init__(self, jitter: float = 0.0):
            self.jitter = jitter

        def _track(self, video, queries):
            StillTracker.calls += 1
            T, q = len(video), np.asarray(queries, np.float32)
            points = np.broadcast_to(q[:, 1:] + self.jitter, (T, len(q), 2))
            return Tracks(points, np.ones((T, len(q)), bool))


    @sampt.hookimpl
    def register_trackers(register):
        register("still", StillTracker, description="points never move")
"""


def test_third_party_plugin_is_discovered_and_used_from_config(tmp_path, monkeypatch, capsys):
    _install_fake_distribution(tmp_path, "sampt-still", THIRD_PARTY_PLUGIN, "still")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = Registry()
    assert "still" in registry.names("tracker")
    assert registry.entry("tracker", "still").plugin == "sampt-still:still"
    cfg = compose(["tracker=still", "tracker.jitter=0.5", "pipeline.refinement_iterations=1"], registry=registry)
    pipeline = build_pipeline(cfg, registry)
    clip = make_clip(seed=0, num_frames=4, height=48, width=64, num_objects=1, max_speed=0.0, max_rotation=0.0)
    result = pipeline.run(clip.video, [ObjectPrompt(1, 0, mask=clip.masks[0, 0])])
    assert type(pipeline.tracker).calls == 1
    np.testing.assert_allclose(result.tracks[0].points[3], result.queries[0].points + 0.5)
    with pytest.raises(UsageError, match="tracker.speed does not exist .*jitter"):
        compose(["tracker=still", "tracker.speed=1"], registry=registry)

    from sampt.cli import main

    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert "sampt-still:still 0.3" in out and "tracker    still: points never move" in out


def test_broken_plugin_is_reported_not_fatal(tmp_path, monkeypatch, capsys):
    _install_fake_distribution(tmp_path, "sampt-broken", "raise ImportError('needs a missing library')\n", "broken")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = Registry()
    assert [b.distribution for b in registry.broken] == ["sampt-broken"]
    assert "lk" in registry.names("tracker")
    from sampt.cli import main

    assert main(["plugins"]) == 0
    assert "sampt-broken:broken FAILED TO LOAD: ImportError: needs a missing library" in capsys.readouterr().out


def test_sequence_options_are_type_checked():
    from typing import Optional, Sequence

    from sampt.plugins import type_ok as _type_ok

    assert _type_ok([384, 512], Sequence[int]) and _type_ok((1, 2), tuple[int, int])
    assert not _type_ok(384, Sequence[int]) and not _type_ok(["a", 2], Sequence[int])
    assert not _type_ok([1, 2, 3], tuple[int, int]) and _type_ok(None, Optional[Sequence[int]])


WHOLE_METHOD_PLUGIN = """
    import numpy as np
    import sampt
    from sampt.methods import MethodResult, VOSMethod
    from sampt.pipeline.store import MaskStore


    class StillMasks(VOSMethod):
        \"\"\"A third party's whole VOS method: every object keeps its first mask on every later frame.\"\"\"

        def __init__(self, margin: int = 0, seed: int = 0):
            self.margin, self.seed = margin, seed

        def run(self, video, prompts, progress=False):
            store = MaskStore(len(video), len(prompts), video.size)
            for o, p in enumerate(prompts):
                for t in range(p.frame, len(video)):
                    store.set(t, o, np.where(p.mask, 1.0, -1.0).astype(np.float32))
            return MethodResult([p.object_id for p in prompts], store, {"tracking": 0.0})


    @sampt.hookimpl
    def register_methods(register):
        register("still_masks", StillMasks, description="first masks, unchanged")
"""


def test_third_party_whole_method_is_a_bench_row(tmp_path, monkeypatch, capsys):
    import csv

    from sampt.cli import main

    _install_fake_distribution(tmp_path, "sampt-still-masks", WHOLE_METHOD_PLUGIN, "still_masks")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "still_masks" in Registry().names("method")
    out = tmp_path / "bench"
    assert main(["bench", "--config", "ci", "--trackers", "lk", "--grid", "method=sampt,still_masks",
                 "--grid", "method.margin=0", "--repeats", "1", "--warmup", "0", "--sequences", "synthetic_000",
                 "--no-plot", "--output", str(out), "--no-progress"]) == 0
    with open(out / "runs.csv") as f:
        rows = {r["name"]: r for r in csv.DictReader(f)}
    assert set(rows) == {"lk+grabcut", "still_masks (margin=0)"}
    still = rows["still_masks (margin=0)"]
    assert still["method"] == "still_masks" and still["tracker"] == "" and 0 < float(still["J&F"]) <= 1
    assert float(still["fps_median"]) > 0 and float(still["peak_rss_mib"]) > 10
    assert main(["plugins"]) == 0
    assert "method     still_masks: first masks, unchanged" in capsys.readouterr().out


def test_registered_names_can_preset_options_and_hooks_go_through_pluggy():
    import sampt
    from sampt.builtin.trackers import DenseFlowTracker
    from sampt.plugins import plugin_manager

    class Presets:
        @sampt.hookimpl
        def register_trackers(self, register):
            register("flow_fast", DenseFlowTracker, description="DIS flow, fast preset", defaults={"preset": "fast"})

        def register_segmenters(self, register):  # not marked as a hook implementation: never called
            raise AssertionError("called without @sampt.hookimpl")

    registry = Registry(plugin_manager([Presets()]))
    entry = registry.entry("tracker", "flow_fast")
    assert "preset" not in entry.parameters() and "fb_threshold" in entry.parameters()
    tracker = registry.create("tracker", "flow_fast", fb_threshold=2.0)
    assert tracker.preset == "fast" and tracker.fb_threshold == 2.0
    with pytest.raises(UnknownComponentError, match="preset is preset to 'fast' by the name 'flow_fast'"):
        registry.create("tracker", "flow_fast", preset="medium")
    cfg = compose(["tracker=flow_fast", "tracker.fb_threshold=3.0"], registry=registry)
    assert build_pipeline(cfg, registry).tracker.preset == "fast"
    with pytest.raises(UsageError, match="config key tracker.preset does not exist for tracker 'flow_fast'"):
        compose(["tracker=flow_fast", "tracker.preset=medium"], registry=registry)
