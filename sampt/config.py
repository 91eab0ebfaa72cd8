"""Configuration: composing ``configs/`` with command-line overrides, and building components from it.

The composed config has one node per component (``tracker``, ``segmenter``, ``positive_sampler``,
``negative_sampler``: each ``{name: ..., <options>}``), a ``pipeline`` node (:class:`SamPtOptions`) and a
``seed``. Overrides are ``GROUP=NAME`` to pick a component or a preset (loading ``configs/<group>/<name>.yaml``
when it exists) and ``dotted.key=value`` to set a value. A key that does not exist, or a value of the
wrong type, is an error naming the key: component options are checked against the component's own
constructor, pipeline options against :class:`SamPtOptions`.

Group composition is a single level of "pick a file per group", so it is done here with OmegaConf in a few
lines rather than pulling in Hydra; plugin components need no file (their options come from their
constructor's signature).
"""
from __future__ import annotations

import os
import re
import typing
from pathlib import Path
from typing import Any, Optional, Sequence

from omegaconf import DictConfig, OmegaConf

from sampt.constraints import expected_type, type_ok
from sampt.errors import ConfigError, UsageError, one_line, shown
from sampt.pipeline.options import SamPtOptions
from sampt.plugins import OptionError, Registry, UnknownComponentError

COMPONENT_NODES = {"tracker": "tracker", "segmenter": "segmenter", "positive_sampler": "sampler",
                   "negative_sampler": "sampler"}
"""Config node -> (component kind, which is also the configs/ group directory)."""
CONFIG_ENV = "SAMPT_CONFIG_DIR"


def config_dir() -> Path:
    """Where the default configs are: ``$SAMPT_CONFIG_DIR``; else the ``configs`` package data installed
    with sampt (``sampt/configs`` in site-packages; the repository's ``configs/`` folder is mapped there at
    build time, see ``setup.py``); else, running from a source checkout (editable install), its ``configs/``."""
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env)
    from importlib.resources import files

    packaged = Path(str(files("sampt").joinpath("configs")))
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "configs"


def _load_yaml(path: Path) -> DictConfig:
    try:
        cfg = OmegaConf.load(path)
    except Exception as exc:
        raise UsageError(f"config file {path} cannot be parsed: {exc}") from None
    if not isinstance(cfg, DictConfig):
        raise UsageError(f"config file {path} must hold a mapping")
    return cfg


GROUP_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]{0,99}")
"""A name picked for a config group (a component or preset): a plain name, never a path."""


def _group_file(group: str, name: str) -> Optional[Path]:
    """``configs/<group>/<name>.yaml`` when it exists; ``name`` must be a plain name (no path, no '..')."""
    if not GROUP_NAME.fullmatch(name):
        raise UsageError(f"{group} name {shown(name)} is not a plain name (up to 100 letters, digits and - _ . +, "
                         f"no path); see `sampt plugins` and `sampt config` for the names")
    path = config_dir() / group / f"{name}.yaml"
    return path if path.is_file() else None


def parse_value(text: str) -> Any:
    """The value of one ``KEY=VALUE`` override's text, as OmegaConf's grammar reads it (``1`` int, ``[1,2]``
    list, ``null`` None ...); a text it cannot parse is a ConfigError."""
    try:
        return OmegaConf.to_container(OmegaConf.from_dotlist([f"v={text}"]), resolve=False)["v"]
    except Exception as exc:  # omegaconf's grammar and interpolation errors
        detail = one_line(exc).split(" full_key:")[0]
        if "Interpolation" in type(exc).__name__ or "nterpolation" in detail:
            raise ConfigError(f"value {text!r} does not resolve ({detail})") from None
        raise ConfigError(f"value {text!r} does not parse ({detail}); quote strings and close brackets, "
                          "e.g. key=[1,2] or key='a b'") from None


def compose(overrides: Sequence[str] = (), config_file: Optional[str] = None, registry: Any = None) -> DictConfig:
    """Compose the default config (or ``config_file``) with ``overrides`` and validate it."""
    if isinstance(overrides, (str, bytes)):  # one override given bare
        overrides = [overrides]
    base_path = Path(config_file) if config_file else config_dir() / "config.yaml"
    if not base_path.is_file():
        if config_file:
            raise UsageError(f"config file {base_path} does not exist")
        raise UsageError(f"sampt's default config {base_path} is missing: reinstall sampt (the configs ship as "
                         f"package data), or point ${CONFIG_ENV} at a folder holding config.yaml")
    cfg = _load_yaml(base_path)
    dotted: list[tuple[str, str]] = []
    for item in overrides:
        if not isinstance(item, str):
            raise UsageError(f"override {shown(item)} is not a KEY=VALUE string (e.g. 'tracker=lk')")
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"override {item!r} is not KEY=VALUE (e.g. tracker=lk or pipeline.positive_points=8)")
        key = key.strip()
        if "." not in key and key in COMPONENT_NODES:
            path = _group_file(COMPONENT_NODES[key], value)
            cfg[key] = _load_yaml(path) if path else OmegaConf.create({"name": value})
            if path and cfg[key].get("name") is None:
                cfg[key]["name"] = value
        elif key == "pipeline":
            path = _group_file("pipeline", value)
            if path is None:
                known = sorted(p.stem for p in (config_dir() / "pipeline").glob("*.yaml"))
                raise UsageError(f"unknown pipeline preset {value!r}; known presets: {', '.join(known)}")
            cfg.pipeline = OmegaConf.merge(cfg.get("pipeline") or {}, _load_yaml(path))
        else:
            dotted.append((key, value))
    for key, value in dotted:
        root = key.split(".", 1)[0]
        if root not in cfg:
            raise UsageError(f"config key {key!r} does not exist; top-level keys: {', '.join(cfg.keys())}")
        try:
            OmegaConf.update(cfg, key, parse_value(value), merge=True, force_add=True)
        except ConfigError:
            raise
        except Exception as exc:  # e.g. setting a key below a plain value
            raise ConfigError(f"override {key}={value} cannot be applied: {one_line(exc).split(' full_key:')[0]}") from None
    return check_config(cfg, registry)


def check_config(cfg: DictConfig, registry: Any = None) -> DictConfig:
    """Validate a composed config the way every config is (the command line's, a session file's): it
    resolves, its pipeline keys and values are known and in range, its seed is a whole number, and every
    component node names a known component with options its constructor accepts. Returns ``cfg`` with the
    pipeline options' defaults filled in."""
    try:  # interpolations (${...}) must resolve now, not halfway through a run
        OmegaConf.to_container(cfg, resolve=True)
    except Exception as exc:
        raise ConfigError(f"config does not resolve: {one_line(exc).split(' full_key:')[0]}") from None
    check_pipeline(cfg)
    cfg.pipeline = OmegaConf.merge(OmegaConf.structured(SamPtOptions), cfg.get("pipeline") or {})
    try:
        SamPtOptions(**OmegaConf.to_container(cfg.pipeline, resolve=True))
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    seed = cfg.get("seed")
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**31:
        raise ConfigError(f"config key 'seed' must be a whole number in [0, 2147483647], got {seed!r}")
    check_components(cfg, registry)
    return cfg


def check_pipeline(cfg: DictConfig) -> None:
    """Every ``pipeline.*`` key must be a :class:`SamPtOptions` field with a value of its type."""
    hints = typing.get_type_hints(SamPtOptions)
    for key, value in (cfg.get("pipeline") or {}).items():
        if key not in hints:
            raise UsageError(f"config key pipeline.{key} does not exist; pipeline keys: {', '.join(hints)}")
        if not type_ok(value, hints[key]):
            raise UsageError(f"config key pipeline.{key}={shown(value)} has the wrong type; expected "
                             f"{expected_type(hints[key])}")


def check_components(cfg: DictConfig, registry: Any = None) -> None:
    """Check every component node: a known name, and options its constructor accepts with the right types
    (:meth:`sampt.plugins.ComponentEntry.check_options`, the one owner of that check)."""
    registry = registry or Registry()
    for node, kind in COMPONENT_NODES.items():
        spec = cfg.get(node)
        if spec is None or spec.get("name") is None:
            raise UsageError(f"config node {node!r} needs a name (e.g. {node}={registry.names(kind)[0] if registry.names(kind) else 'NAME'})")
        try:
            entry = registry.entry(kind, str(spec.name))
            entry.check_options(component_options(cfg, node), where=node)
        except OptionError as exc:
            raise UsageError(f"config key {exc}") from None
        except UnknownComponentError as exc:
            raise UsageError(str(exc)) from None
        except ImportError as exc:
            raise UsageError(f"{kind} {spec.name!r} cannot be loaded: {exc}. Is its plugin installed with its dependencies?") from None
        entry.check_ranges(component_options(cfg, node), f"config key {node}")


def component_options(cfg: DictConfig, node: str) -> dict:
    spec = OmegaConf.to_container(cfg[node], resolve=True)
    spec.pop("name")
    return spec


def build_component(cfg: DictConfig, node: str, registry: Any = None) -> Any:
    """Create the component of config node ``node`` (tracker, segmenter, positive_sampler, negative_sampler)
    from a composed config (its options were checked by :func:`compose`)."""
    registry = registry or Registry()
    return registry.entry(COMPONENT_NODES[node], str(cfg[node].name)).build(component_options(cfg, node))


def build_pipeline(cfg: DictConfig, registry: Any = None):
    """A :class:`~sampt.pipeline.SamPt` from a composed config (:func:`compose`)."""
    from sampt.pipeline import SamPt

    registry = registry or Registry()
    try:  # the options check their values when created: the one place they are validated
        options = SamPtOptions(**OmegaConf.to_container(cfg.pipeline, resolve=True))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return SamPt(
        tracker=build_component(cfg, "tracker", registry),
        segmenter=build_component(cfg, "segmenter", registry),
        positive_sampler=build_component(cfg, "positive_sampler", registry),
        negative_sampler=build_component(cfg, "negative_sampler", registry),
        options=options,
        seed=int(cfg.seed),
    )
