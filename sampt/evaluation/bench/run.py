"""``sampt bench``: a speed/accuracy grid over trackers x segmenters x pipeline options.

For each combination of the grid the pipeline is built once, every sequence is decoded up front (decoding
is not timed), ``warmup`` runs on the first sequence are discarded, then ``repeats`` timed passes go over
the whole dataset, combination after combination, or alternating between combinations pass by pass
(``interleave``) so that a change in machine load affects all of them alike. Reported per combination:

* J&F, J, F of the first timed pass (the official DAVIS protocol: first and last frames excluded);
* FPS of the whole pipeline (frames / wall-clock seconds of ``SamPt.run``): median and best pass;
* seconds per frame, min and median over passes, and split by stage (``result.timings``: tracking,
  encoding, decoding, other; medians); process CPU seconds per frame (median);
* peak resident host memory during the timed passes (sampled from ``/proc``), and peak CUDA memory when
  the components use torch on a GPU.

Besides SAM-PT combinations, the grid may hold whole VOS methods that plugins register through the
``register_methods`` hook (:mod:`sampt.methods`), e.g. SAM 2's video predictor: a grid axis
``method=sampt,sam2_video`` adds one row per method, scored, timed and probed the same way. ``sampt`` is
SAM-PT itself (the tracker/segmenter/pipeline axes apply to it only); a whole method takes its options as
``method.KEY=VALUE`` overrides (``method.model=sam2.1_hiera_tiny``, ``method.checkpoint=/path``).

This module plans and runs the grid (:func:`plan_bench`, :func:`run_bench`); one combination's measurement
is :mod:`sampt.evaluation.bench.combination`, the measuring tools are in
:mod:`sampt.evaluation.measure`, the machine and versions in :mod:`sampt.provenance`, the table,
plot and files in :mod:`sampt.evaluation.bench.report`, the command line in :mod:`sampt.evaluation.commands`.
"""
from __future__ import annotations

import itertools
import logging
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional, Sequence

from sampt.errors import UsageError
from sampt.evaluation.executors import ExecutorSpec, Job, make_executor, split_executor_overrides
from sampt.evaluation.inference import SequenceInput, object_prompts
from sampt.evaluation.measure import STAGES
from sampt.provenance import provenance
from sampt.evaluation.bench.combination import (KEYED_ACCURACY, METHOD_KEY, CombinationBench, combination_name,
                                          is_whole_method, run_grid, split_method, weights_policy)

log = logging.getLogger(__name__)

DEFAULT_CONFIG = "synthetic"
CONFIG_KEYS = ("dataset", "grid", "overrides", "repeats", "warmup", "interleave", "seed", "sequences", "config",
               "weights", "force_visible", "design", "anchor", "rows", "paper")
WEIGHTS_CHOICES = ("checkpoint", "keyed_if_missing")
"""``weights:`` of a bench config. ``checkpoint`` (default): every model loads its checkpoint (cache, download)
or the run fails; ``keyed_if_missing``: a model whose checkpoint is not in the cache gets keyed (random)
weights instead (:func:`sampt.keyed.keyed_weights_if_missing`): its row's speed and memory are valid, its
accuracy reads "n/a (keyed weights)"."""
COMPOSED_ACCURACY = "n/a (composed)"
DESIGNS = ("cross", "axes")
"""``design:`` of a bench config. ``cross`` (default): every combination of the grid is run. ``axes``: one
factor at a time: the ``anchor`` combination, and each value of each axis with the anchor's other values;
every other combination of the cross product is then *composed* from their stage times (see
:func:`compose_axes_rows`) and marked so. For grids too large to run on a small machine."""


# -- configuration ------------------------------------------------------------------------------------

def bench_config_dir() -> Path:
    """Where named bench configs live: ``bench/`` in sampt's config folder."""
    from sampt.config import config_dir

    return config_dir() / "bench"


def load_bench_config(name_or_path: Optional[str]) -> dict:
    """Load a bench config: a path to a YAML file, or a name under ``configs/bench/``."""
    from omegaconf import OmegaConf

    name_or_path = name_or_path or DEFAULT_CONFIG
    path = Path(name_or_path)
    if not path.is_file():
        path = bench_config_dir() / f"{name_or_path}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in bench_config_dir().glob("*.yaml"))
        raise UsageError(f"bench config {name_or_path!r} not found (a YAML file, or one of: {', '.join(known) or 'none'})")
    try:
        cfg = OmegaConf.to_container(OmegaConf.load(path), resolve=True)
    except Exception as exc:
        raise UsageError(f"bench config {path} cannot be parsed: {exc}") from None
    if not isinstance(cfg, dict):
        raise UsageError(f"bench config {path} must hold a mapping")
    unknown = set(cfg) - set(CONFIG_KEYS)
    if unknown:
        raise UsageError(f"bench config {path}: unknown key {sorted(unknown)[0]!r} (keys: {', '.join(CONFIG_KEYS)})")
    cfg["_path"] = str(path)
    return cfg


def as_list(value: Any) -> list:
    """A list as given, a comma-separated string split, or one value in a list."""
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [value]


def parse_grid_item(item: str) -> tuple[str, list[str]]:
    """``KEY=V1,V2`` -> ``(KEY, [V1, V2])``."""
    key, sep, values = item.partition("=")
    if not sep or not key.strip() or not values.strip():
        raise UsageError(f"grid axis {item!r} is not KEY=V1,V2,... (e.g. tracker=lk,flow)")
    return key.strip(), as_list(values)


def grid_value(v: Any) -> str:
    """A grid value as an override writes it (``null``, ``true``/``false``, else ``str``)."""
    return "null" if v is None else str(v).lower() if isinstance(v, bool) else str(v)


def expand_grid(grid: dict[str, list]) -> list[list[str]]:
    """All combinations of the grid as lists of ``key=value`` overrides (in the grid's key order)."""
    if not grid:
        return [[]]
    keys = list(grid)
    values = [[grid_value(v) for v in as_list(grid[k])] for k in keys]
    for k, vs in zip(keys, values):
        if not vs:
            raise UsageError(f"grid axis {k!r} has no values")
    return [[f"{k}={v}" for k, v in zip(keys, combo)] for combo in itertools.product(*values)]


def axes_grid(grid: dict[str, list], anchor: Optional[dict] = None) -> tuple[list[str], list[list[str]]]:
    """The ``axes`` design: ``(anchor combination, combinations to run)``: the anchor (each axis at
    ``anchor[axis]``, default its first value) and, for each axis in turn, each of its other values with
    the anchor's values on the other axes."""
    anchor = dict(anchor or {})
    unknown = set(anchor) - set(grid)
    if unknown:
        raise UsageError(f"anchor names {sorted(unknown)[0]!r}, which is not a grid axis ({', '.join(grid)})")
    if METHOD_KEY in grid:
        raise UsageError("design=axes composes SAM-PT stage times; it cannot vary whole methods (method=)")
    values = {k: [grid_value(v) for v in as_list(vs)] for k, vs in grid.items()}
    base = {}
    for k, vs in values.items():
        if not vs:
            raise UsageError(f"grid axis {k!r} has no values")
        base[k] = grid_value(anchor[k]) if k in anchor else vs[0]
        if base[k] not in vs:
            raise UsageError(f"anchor {k}={base[k]} is not one of the axis's values ({', '.join(vs)})")
    first = [f"{k}={v}" for k, v in base.items()]
    combos = [first]
    for k, vs in values.items():
        for v in vs:
            if v != base[k]:
                combos.append([f"{key}={v if key == k else b}" for key, b in base.items()])
    return first, combos


def method_combos(combos: Sequence[list[str]], common: Sequence[str] = ()) -> list[list[str]]:
    """The grid's combinations with whole methods separated from SAM-PT: a whole method's combination keeps
    only ``method=`` and its ``method.*`` options (the component axes do not apply to it; duplicates go),
    a SAM-PT combination drops them."""
    common_name = split_method(common)[0]
    out, seen = [], set()
    for combo in combos:
        name, options, rest = split_method(combo)
        name = name if name is not None else common_name
        if is_whole_method(name):
            combo = [f"{METHOD_KEY}={name}"] + [o for o in combo if o.strip().startswith(METHOD_KEY + ".")]
        else:
            combo = rest
        if tuple(combo) not in seen:
            seen.add(tuple(combo))
            out.append(combo)
    return out


@dataclass
class BenchPlan:
    """A benchmark to run: the bench config with the command line's choices applied. ``common`` overrides
    apply to every combination; ``combos`` are each combination's own overrides (they name it)."""

    config: dict
    dataset: dict
    grid: dict[str, list]
    common: list[str]
    combos: list[list[str]]
    repeats: int
    warmup: int
    interleave: bool
    seed: Optional[int]
    sequences: list[str] = field(default_factory=list)
    pipeline_config: Optional[str] = None
    executor: ExecutorSpec = field(default_factory=ExecutorSpec)
    vis: dict[str, str] = field(default_factory=dict)  #: ``vis.KEY=VALUE`` options (dataset uvo)
    proposals: Optional[str] = None  #: a first-frame proposals file (dataset uvo)
    weights: str = "checkpoint"  #: one of :data:`WEIGHTS_CHOICES`
    design: str = "cross"  #: one of :data:`DESIGNS`
    anchor: list[str] = field(default_factory=list)  #: design axes: the anchor combination's overrides
    cross: list[list[str]] = field(default_factory=list)  #: design axes: the whole cross product (report order)
    reference: dict[str, dict] = field(default_factory=dict)  #: combination name -> published scores (``rows:``)
    force_visible: bool = False  #: every tracked point reported visible (see :class:`ForcedVisibleTracker`)

    @property
    def config_file(self) -> str:
        return self.config["_path"]


def plan_bench(config: Optional[str] = None, overrides: Sequence[str] = (), dataset: Optional[str] = None,
               split: Optional[str] = None, sequences: Optional[str] = None, trackers: Optional[str] = None,
               segmenters: Optional[str] = None, grid: Sequence[str] = (), repeats: Optional[int] = None,
               warmup: Optional[int] = None, interleave: Optional[bool] = None,
               pipeline_config: Optional[str] = None, weights: Optional[str] = None,
               design: Optional[str] = None) -> BenchPlan:
    """Load the bench ``config`` and apply the caller's choices (None keeps the config's); checks that every
    combination composes before anything runs."""
    cfg = load_bench_config(config)
    dataset_spec = dict(cfg.get("dataset") or {"name": "synthetic"})
    if dataset:
        dataset_spec["name"] = dataset
        if dataset != "synthetic":
            dataset_spec.pop("root", None)
    if split:
        dataset_spec["split"] = split
    axes = {k: as_list(v) for k, v in (cfg.get("grid") or {}).items()}
    if trackers:
        axes["tracker"] = as_list(trackers)
    if segmenters:
        axes["segmenter"] = as_list(segmenters)
    for item in grid:
        k, vs = parse_grid_item(item)
        axes[k] = vs
    repeats = int(repeats if repeats is not None else cfg.get("repeats", 3))
    warmup = int(warmup if warmup is not None else cfg.get("warmup", 1))
    if repeats < 1 or warmup < 0:
        raise UsageError(f"--repeats must be >= 1 and --warmup >= 0 (got {repeats}, {warmup})")
    seed = cfg.get("seed")
    executor, common = split_executor_overrides([str(o) for o in as_list(cfg.get("overrides") or [])] + list(overrides))
    if seed is not None and not any(o.startswith("seed=") for o in common):
        common.append(f"seed={int(seed)}")
    vis_items: dict[str, str] = {}
    proposals = None
    tasks = [o.partition("=")[2].strip().lower() for o in common if o.partition("=")[0].strip() == "task"]
    common = [o for o in common if o.partition("=")[0].strip() != "task"]
    is_vis = str(dataset_spec.get("name", "")).lower() == "uvo"
    if tasks and tasks[-1] != ("vis" if is_vis else "vos"):
        raise UsageError(f"task={tasks[-1]} does not fit dataset {dataset_spec.get('name')!r}: task=vis is video "
                         "instance segmentation on --dataset uvo; every other dataset is task=vos")
    if is_vis:  # vis.* / proposals= set the VIS mode
        from sampt.evaluation.vis.run import split_vis_overrides

        vis_items, proposals, common = split_vis_overrides(common)
    pipeline_config = pipeline_config or cfg.get("config")
    weights = str(weights or cfg.get("weights") or "checkpoint")
    if weights not in WEIGHTS_CHOICES:
        raise UsageError(f"weights={weights!r} is not one of {', '.join(WEIGHTS_CHOICES)}")
    force_visible = cfg.get("force_visible", False)
    if not isinstance(force_visible, bool):
        raise UsageError(f"force_visible must be true or false, got {force_visible!r}")
    if (weights != "checkpoint" or force_visible) and executor.name != "local":
        raise UsageError(f"weights={weights} / force_visible run with the local executor only, not "
                         f"executor={executor.name}")
    design = str(design or cfg.get("design") or "cross")
    if design not in DESIGNS:
        raise UsageError(f"design={design!r} is not one of {', '.join(DESIGNS)}")
    anchor: list[str] = []
    cross: list[list[str]] = []
    reference: dict[str, dict] = {}
    if cfg.get("rows") is not None:  # explicit combinations (a paper's ablation rows), not a grid
        if axes or design == "axes":
            raise UsageError(f"bench config {cfg['_path']}: give either rows: or grid:/design: axes, not both")
        combos, reference = config_rows(cfg["rows"])
    elif design == "axes":
        anchor_cfg = cfg.get("anchor") or {}
        if not isinstance(anchor_cfg, dict):
            raise UsageError(f"anchor must map grid axes to values, got {anchor_cfg!r}")
        anchor, combos = axes_grid(axes, anchor_cfg)
        cross = expand_grid(axes)
    else:
        combos = method_combos(expand_grid(axes), common)
    from sampt.config import compose

    for combo in combos:  # every combination composes (a method is known, its options exist) before time is spent
        method, options, rest = split_method(common + combo)
        compose(rest, config_file=pipeline_config)
        if is_whole_method(method):
            check_method(method, options)
    names = [s for s in (sequences or "").split(",") if s] or [str(s) for s in as_list(cfg.get("sequences") or [])]
    return BenchPlan(config=cfg, dataset=dataset_spec, grid=axes, common=common, combos=combos, repeats=repeats,
                     warmup=warmup, interleave=bool(interleave if interleave is not None else cfg.get("interleave", False)),
                     seed=None if seed is None else int(seed), sequences=names, pipeline_config=pipeline_config,
                     executor=executor, vis=vis_items, proposals=proposals, weights=weights,
                     force_visible=force_visible, design=design, anchor=anchor, cross=cross, reference=reference)


REFERENCE_PREFIX = "paper_"
"""Published scores of a ``rows:`` entry are reported beside the measured ones as ``paper_<metric>``."""


def config_rows(rows: Any) -> tuple[list[list[str]], dict[str, dict]]:
    """A bench config's ``rows:``: each ``{overrides: [KEY=VALUE, ...], paper: {"J&F": 76.6, ...}}``
    (``paper`` optional; its values in percent as published, or null where unknown). Returns the
    combinations and the published scores by combination name."""
    if not isinstance(rows, list) or not rows:
        raise UsageError("rows: must be a non-empty list of {overrides: [KEY=VALUE, ...], paper: {...}}")
    combos, reference = [], {}
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or not isinstance(row.get("overrides"), list) or set(row) - {"overrides", "paper", "note"}:
            raise UsageError(f"rows[{i}] must be a mapping with overrides: [KEY=VALUE, ...] (and optional paper:, "
                             f"note:), got {row!r}")
        combo = [str(o) for o in row["overrides"]]
        name = combination_name(combo)[0]
        if name in reference:
            raise UsageError(f"rows[{i}] repeats the combination {name!r}")
        paper = row.get("paper") or {}
        if not isinstance(paper, dict) or any(v is not None and not isinstance(v, (int, float)) for v in paper.values()):
            raise UsageError(f"rows[{i}].paper must map metrics to numbers (or null), got {paper!r}")
        combos.append(combo)
        reference[name] = {f"{REFERENCE_PREFIX}{k}": v for k, v in paper.items()}
        if row.get("note"):
            reference[name][f"{REFERENCE_PREFIX}note"] = str(row["note"])
    return combos, reference


def check_method(name: str, options: dict[str, Any], registry: Any = None) -> None:
    """Raise a :class:`UsageError` naming the problem when no plugin registers method ``name`` or it has no
    such option."""
    from sampt.plugins import Registry, UnknownComponentError

    from sampt.plugins import OptionError

    registry = registry if registry is not None else Registry()
    try:
        registry.entry("method", name).check_options(options, where="method")
    except OptionError as exc:
        raise UsageError(str(exc)) from None
    except UnknownComponentError as exc:
        raise UsageError(f"bench: {exc}") from None


# -- data -------------------------------------------------------------------------------------------

def prepare_dataset(spec: dict, root: Optional[str], workdir: Path) -> Any:
    """Open the benchmark's dataset: ``name: synthetic`` writes seeded synthetic clips in the DAVIS layout
    under ``workdir`` first; any other name opens ``root`` (``--dataset-root`` or ``dataset.root``)."""
    from sampt.evaluation.datasets import open_dataset

    name = str(spec.get("name", "synthetic"))
    split = spec.get("split")
    root = root or spec.get("root")
    if name == "synthetic" and not root:
        from sampt.data.synthetic import make_synthetic_set, write_davis

        opts = dict(spec.get("synthetic") or {})
        num_clips = int(opts.pop("num_clips", 3))
        seed = int(opts.pop("seed", 0))
        clips = make_synthetic_set(num_clips=num_clips, seed=seed, **opts)
        write_davis(workdir / "synthetic-davis", clips, split=split or "val", year="2017")
        return open_dataset("davis2017", workdir / "synthetic-davis", split=split or "val")
    if not root:
        raise UsageError(f"bench dataset {name!r} needs a root folder: --dataset-root or dataset.root in the config")
    return open_dataset("davis2017" if name == "synthetic" else name, root, split=split)


def describe_dataset(spec: dict, dataset: Any, num_sequences: int, root: Optional[str]) -> str:
    """How the report names the benchmark's data."""
    name = spec.get("name", "synthetic")
    if name == "synthetic" and not (root or spec.get("root")):
        syn = spec.get("synthetic") or {}
        return (f"synthetic DAVIS-layout set ({num_sequences} clips of {syn.get('num_frames', 16)} frames, "
                f"{syn.get('width', 128)}x{syn.get('height', 96)}, seed {syn.get('seed', 0)})")
    return f"{name} ({dataset.name} layout, split {dataset.split})"


# -- the run ----------------------------------------------------------------------------------------

@dataclass
class BenchResult:
    """What :func:`run_bench` measured: one row per combination, per-sequence rows, the metadata (machine,
    versions, git revision, configs, protocol, executor, failures) that goes with them, and the executor's
    summary (None for the local grid)."""

    rows: list[dict]
    per_sequence: list[dict]
    meta: dict
    summary: Any = None


def run_bench(plan: BenchPlan, dataset_root: Optional[str] = None, progress: bool = True) -> BenchResult:
    """Run the plan's grid on its dataset and collect the rows and metadata (nothing is written)."""
    with tempfile.TemporaryDirectory(prefix="sampt-bench-") as work:
        dataset = prepare_dataset(plan.dataset, dataset_root, Path(work))
        dataset.select(plan.sequences)
        if getattr(dataset, "kind", "") == "vis":  # UVO: video instance segmentation
            from sampt.evaluation.vis.bench import prepare_vis_benches

            if plan.executor.name != "local":
                raise UsageError(f"executor={plan.executor.name} does not run video instance segmentation yet; "
                                 "benchmark uvo with the local executor")
            benches: list[CombinationBench] = prepare_vis_benches(dataset, plan.common, plan.combos, plan.pipeline_config,
                                                                   plan.vis, plan.proposals)
        else:
            if not dataset.scored_locally:
                raise UsageError(f"{dataset.name} {dataset.split} has no public annotations; benchmark on a split "
                                 "that can be scored locally (DAVIS val, synthetic)")
            sequences = [(seq, seq.video(), object_prompts(seq)) for seq in dataset]
            if not sequences:
                raise UsageError("the benchmark dataset has no sequences")
            benches = [CombinationBench(plan.common, combo, sequences, plan.pipeline_config, dataset.exclude_first_last)
                       for combo in plan.combos]
        for b in benches:
            b.weights, b.force_visible = plan.weights, plan.force_visible
        sequences = benches[0].sequences
        if plan.executor.name == "local":
            summary = None
            from sampt.progress import progress_bar

            bar = progress_bar(total=len(plan.combos) * plan.repeats, desc="bench", unit="pass", enabled=progress,
                               leave=True)
            try:
                run_grid(benches, plan.repeats, plan.warmup, plan.interleave, bar)
            finally:
                bar.close()
        else:
            if plan.interleave:
                log.warning("interleave has no effect with executor=%s: each (combination, sequence) runs its "
                            "repeats on one worker", plan.executor.name)
            summary = run_jobs(plan, benches, sequences, progress)
        rows, per_sequence, configs = [], [], {}
        for b in benches:
            if not b.totals:  # every sequence of it failed (listed in the summary and meta["failures"])
                continue
            row, seq_rows, resolved = b.results()
            rows.append(row)
            per_sequence.extend(seq_rows)
            configs[row["name"]] = resolved
        if plan.design == "axes":
            rows = compose_axes_rows(rows, plan.anchor, plan.cross)
        for row in rows:
            row.update(plan.reference.get(row["name"], {}))
        dataset_desc = describe_dataset(plan.dataset, dataset, len(sequences), dataset_root)
        frames = sum(len(v) for _, v, _ in sequences)
    plan_dict = {k: v for k, v in asdict(plan).items() if k != "config"}
    meta = {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "plan": plan_dict, "dataset_root": dataset_root, **provenance(),
        "bench_config": {k: v for k, v in plan.config.items() if k != "_path"}, "bench_config_file": plan.config_file,
        "grid": plan.grid, "common_overrides": plan.common, "repeats": plan.repeats, "warmup": plan.warmup,
        "interleave": plan.interleave, "weights": plan.weights, "force_visible": plan.force_visible,
        "design": plan.design, "anchor": plan.anchor,
        "seed": plan.seed if plan.seed is not None else next((int(c["seed"]) for c in configs.values()), None),
        "dataset": dataset_desc, "frames": frames, "sequences": len(sequences), "configs": configs,
        "executor": {"name": plan.executor.name, "workers": summary.workers if summary else 1,
                     "spec": asdict(plan.executor)},
        "failures": [asdict(f) for f in summary.failures] if summary else [],
    }
    return BenchResult(rows, per_sequence, meta, summary)


COMPOSED_KEYS = ("spf_min", "spf_median", "cpu_spf_median", *(f"spf_{s}" for s in STAGES), "peak_rss_mib",
                 "rss_increase_mib", "peak_gpu_mib", "setup_s")
"""Row values :func:`compose_axes_rows` adds up (FPS follows from the composed seconds per frame)."""


def compose_axes_rows(rows: Sequence[dict], anchor: Sequence[str], cross: Sequence[list[str]]) -> list[dict]:
    """The whole cross product from an ``axes`` run: measured rows as they are (``source: measured``), and
    each combination not run composed additively from the rows that vary one axis from the anchor::

        value(c) = value(anchor) + sum over axes k where c differs from the anchor of
                   (value(anchor with k = c[k]) - value(anchor))

    for seconds per frame (in total and by stage), CPU seconds and memory. SAM-PT's stages run one after
    another and each depends on one component (tracking on the tracker, encoding and decoding on the
    segmenter), so stage times compose; peak memory composes only approximately (it adds each component's
    weights and its own working set, an upper bound when their peaks do not overlap). Accuracy is not
    composed. A composed row says ``source: composed`` and names its ``composed_from`` rows."""
    by_name = {r["name"]: r for r in rows}
    anchor_name = combination_name(anchor)[0]
    if anchor_name not in by_name:
        return list(rows)  # the anchor failed: nothing can be composed
    base = by_name[anchor_name]
    base_values = dict(o.split("=", 1) for o in anchor)
    out = []
    for combo in cross:
        name, tracker, segmenter, options = combination_name(combo)
        if name in by_name:
            out.append({**by_name[name], "source": "measured"})
            continue
        values = dict(o.split("=", 1) for o in combo)
        sources = [combination_name([f"{k}={values[k] if k == key else v}" for k, v in base_values.items()])[0]
                   for key in base_values if values[key] != base_values[key]]
        if any(s not in by_name for s in sources):
            continue  # one of its axis rows failed
        row = {k: v for k, v in base.items() if k not in ("seconds_per_pass", "nodes")}
        for key in COMPOSED_KEYS:
            if base.get(key) is None:
                continue
            value = base[key] + sum(by_name[s][key] - base[key] for s in sources)
            row[key] = max(0.0, value)
        keyed = sorted({m for s in [anchor_name, *sources] for m in by_name[s].get("keyed_models", [])})
        accuracy = KEYED_ACCURACY if keyed else COMPOSED_ACCURACY
        row.update({"name": name, "tracker": tracker or base["tracker"], "segmenter": segmenter or base["segmenter"],
                    "options": options, "J&F": accuracy, "J": accuracy, "F": accuracy,
                    "weights": "keyed" if keyed else "checkpoint", "keyed_models": keyed,
                    "fps_median": 1.0 / max(row["spf_median"], 1e-12), "fps_best": 1.0 / max(row["spf_min"], 1e-12),
                    "overrides": list(combo), "source": "composed", "composed_from": [anchor_name, *sources]})
        row.pop("fps_predicted", None)
        row.pop("prediction_error_pct", None)
        out.append(row)
    return out


def run_jobs(plan: BenchPlan, benches: list[CombinationBench], sequences: list[tuple[Any, Any, list]],
             progress: bool = True) -> Any:
    """Run the grid as (combination, sequence) jobs on the plan's executor (``executor=ray``): each job
    makes ``repeats`` timed runs of its sequence (after ``warmup`` runs on each worker's first sequence);
    run ``r`` of every sequence adds up to pass ``r``. Returns the executor's summary."""
    by_combo = {b.name: b for b in benches}
    by_name = {seq.name: seq for seq, _, _ in sequences}

    def job(b: CombinationBench, seq: Any, video: Any, prompts: list) -> Job:
        return Job(b.name, b.cfg, seq.name, lambda: SequenceInput(seq.name, video, prompts, list(seq.eval_frames)),
                   repeats=plan.repeats, warmup=plan.warmup)

    jobs = [job(b, *item) for b in benches for item in sequences]
    executor = make_executor(plan.executor)
    try:
        return executor.run(jobs, lambda r: by_combo[r.combo].add_result(by_name[r.sequence], r), progress=progress)
    finally:
        executor.close()


def default_output(plan: BenchPlan) -> Path:
    """``sampt-output/bench/<config>-<UTC time>``."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return Path(f"sampt-output/bench/{Path(plan.config_file).stem}-{stamp}")


def predict_bench(plan: BenchPlan, dataset_root: Optional[str] = None, timings_path: Optional[Path] = None) -> tuple[list[dict], Any]:
    """``sampt bench --predict``: each combination's FPS on the plan's dataset estimated from its components'
    timings (:mod:`sampt.evaluation.bench.predict`; read from ``timings_path`` where measured before, the rest
    measured now on the first sequence). Returns the rows and the timings."""
    from sampt.config import compose
    from sampt.evaluation.bench.predict import ensure_timings, predict_rows

    cfgs = {combination_name(c)[0]: compose(plan.common + c, config_file=plan.pipeline_config) for c in plan.combos}
    with tempfile.TemporaryDirectory(prefix="sampt-bench-") as work:
        dataset = prepare_dataset(plan.dataset, dataset_root, Path(work))
        dataset.select(plan.sequences)
        if not dataset.sequences:
            raise UsageError("the benchmark dataset has no sequences")
        videos = [(len(seq), len(seq.object_ids)) for seq in dataset]
        with weights_policy(plan.weights, int(next(iter(cfgs.values())).seed) if cfgs else 0):
            timings = ensure_timings(timings_path, list(cfgs.values()), dataset.sequence(dataset.sequences[0]).video())
    return predict_rows(cfgs, videos, timings), timings


def add_predictions(rows: list[dict], predicted: Sequence[dict]) -> None:
    """Put each combination's predicted FPS beside the measured one, with the error in percent."""
    by_name = {p["name"]: p for p in predicted}
    for row in rows:
        p = by_name.get(row["name"])
        if p is not None:
            row["fps_predicted"] = p["fps_predicted"]
            row["prediction_error_pct"] = 100.0 * (p["fps_predicted"] - row["fps_median"]) / row["fps_median"]
