"""``sampt bench``'s plan: the bench config (named or a file) and its overrides, checked and expanded into the
combinations to run (:class:`BenchPlan`); the run is :mod:`sampt.evaluation.bench.run`."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

from sampt.errors import UsageError
from sampt.evaluation.bench.combination import combination_name, is_whole_method, split_method
from sampt.evaluation.bench.grid import as_list, axes_grid, expand_grid, method_combos, parse_grid_item
from sampt.evaluation.executors import ExecutorSpec, split_executor_overrides

log = logging.getLogger(__name__)

DEFAULT_CONFIG = "synthetic"
CONFIG_KEYS = ("dataset", "grid", "overrides", "repeats", "warmup", "interleave", "seed", "sequences", "config",
               "weights", "force_visible", "design", "anchor", "rows", "paper")
WEIGHTS_CHOICES = ("checkpoint", "keyed_if_missing")
"""``weights:`` of a bench config. ``checkpoint`` (default): every model loads its checkpoint (cache, download)
or the run fails; ``keyed_if_missing``: a model whose checkpoint is not in the cache gets keyed (random)
weights instead (:func:`sampt.keyed.keyed_weights_if_missing`): its row's speed and memory are valid, its
accuracy reads "n/a (keyed weights)"."""
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
