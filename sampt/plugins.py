"""Plugin discovery and the component registry.

A :class:`Registry` is built from a pluggy ``PluginManager`` that loads every distribution declaring the
``sampt`` entry-point group (sampt's own built-ins included). Nothing is global: each ``Registry()`` is a
fresh view of what is installed, and tests can add plugin objects directly.
"""
from __future__ import annotations

import importlib
import importlib.metadata
import logging
import inspect
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Optional, Union

import pluggy

from sampt import hookspecs
from sampt.errors import SamptError

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "sampt"
KINDS = ("tracker", "segmenter", "sampler")


class UnknownComponentError(SamptError, KeyError):
    """A component name that no installed plugin registers."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


@dataclass
class ComponentEntry:
    """One registered component: ``factory`` is a callable or a lazy ``"module:attribute"`` string."""

    kind: str
    name: str
    factory: Union[Callable[..., Any], str]
    description: str = ""
    plugin: str = ""
    aliases: tuple[str, ...] = ()

    def resolve(self) -> Callable[..., Any]:
        """The factory itself, importing it when registered lazily."""
        if isinstance(self.factory, str):
            module, _, attr = self.factory.partition(":")
            obj: Any = importlib.import_module(module)
            for part in attr.split("."):
                obj = getattr(obj, part)
            self.factory = obj
        return self.factory

    def parameters(self) -> dict[str, inspect.Parameter]:
        """The factory's keyword parameters: the component's config keys."""
        sig = inspect.signature(self.resolve())
        return {
            n: p
            for n, p in sig.parameters.items()
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and n != "self"
        }


@dataclass
class PluginInfo:
    """An installed plugin: its name, distribution version and what it registers."""

    name: str
    version: str = ""
    components: list[ComponentEntry] = field(default_factory=list)
    weights: list[str] = field(default_factory=list)


@dataclass
class BrokenPlugin:
    """An entry point that failed to load: reported by ``sampt plugins`` instead of breaking every command."""

    name: str
    distribution: str
    error: str


def plugin_manager(extra_plugins: Iterable[Any] = (), load_entry_points: bool = True) -> pluggy.PluginManager:
    """A plugin manager with sampt's hook specifications and every installed plugin loaded.

    A plugin whose module fails to import is logged and listed in ``pm.sampt_broken`` rather than
    raising, so one broken third-party package does not take the command line down.
    """
    pm = pluggy.PluginManager("sampt")
    pm.add_hookspecs(hookspecs)
    pm.sampt_broken = []  # type: ignore[attr-defined]
    pm.sampt_dists = {}  # type: ignore[attr-defined]
    if load_entry_points:
        for ep in sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            dist = ep.dist.name if ep.dist is not None else "?"
            version = ep.dist.version if ep.dist is not None else ""
            if pm.get_plugin(ep.name) is not None or pm.is_blocked(ep.name):
                continue
            try:
                plugin = ep.load()
            except Exception as exc:  # any import-time failure of a third-party plugin
                log.warning("sampt plugin %s (%s) failed to load: %s", ep.name, dist, exc)
                pm.sampt_broken.append(BrokenPlugin(ep.name, dist, f"{type(exc).__name__}: {exc}"))
                continue
            pm.register(plugin, name=ep.name)
            pm.sampt_dists[ep.name] = (dist, version)
    for plugin in extra_plugins:
        pm.register(plugin)
    return pm


def _plugin_label(pm: pluggy.PluginManager, plugin: Any) -> tuple[str, str]:
    name = pm.get_name(plugin) or repr(plugin)
    dist, version = getattr(pm, "sampt_dists", {}).get(name, ("", ""))
    return (f"{dist}:{name}" if dist else name), version


class Registry:
    """Every tracker, segmenter, sampler and checkpoint the installed plugins provide."""

    def __init__(self, pm: Optional[pluggy.PluginManager] = None):
        self.pm = pm if pm is not None else plugin_manager()
        self._components: dict[str, dict[str, ComponentEntry]] = {k: {} for k in KINDS}
        self._aliases: dict[str, dict[str, str]] = {k: {} for k in KINDS}
        self.weights: dict[str, Any] = {}
        self.plugins: dict[str, PluginInfo] = {}
        self.broken: list[BrokenPlugin] = list(getattr(self.pm, "sampt_broken", []))
        self._collect()

    def _collect(self) -> None:
        for plugin in self.pm.get_plugins():
            label, version = _plugin_label(self.pm, plugin)
            info = self.plugins.setdefault(label, PluginInfo(label, version))
            for kind in KINDS:
                hook = getattr(plugin, f"register_{kind}s", None)
                if hook is None:
                    continue
                hook(register=self._registrar(kind, label, info))
            hook = getattr(plugin, "register_weights", None)
            if hook is not None:
                def register_weights(spec: Any, _info: PluginInfo = info) -> None:
                    if spec.name in self.weights:
                        raise ValueError(f"checkpoint {spec.name!r} registered twice")
                    self.weights[spec.name] = spec
                    _info.weights.append(spec.name)

                hook(register=register_weights)

    def _registrar(self, kind: str, label: str, info: PluginInfo) -> Callable[..., None]:
        def register(name: str, factory: Union[Callable[..., Any], str], description: str = "",
                     aliases: Iterable[str] = ()) -> None:
            if name in self._components[kind] or name in self._aliases[kind]:
                other = self._components[kind].get(name)
                raise ValueError(
                    f"{kind} {name!r} is registered by both {other.plugin if other else '?'} and {label}"
                )
            entry = ComponentEntry(kind, name, factory, description, label, tuple(aliases))
            self._components[kind][name] = entry
            for alias in entry.aliases:
                self._aliases[kind][alias] = name
            info.components.append(entry)

        return register

    def names(self, kind: str) -> list[str]:
        """Sorted names of every registered component of ``kind``."""
        return sorted(self._components[kind])

    def entry(self, kind: str, name: str) -> ComponentEntry:
        """The registration of ``name``; an unknown name raises an error listing the known ones."""
        if kind not in KINDS:
            raise UnknownComponentError(f"unknown component kind {kind!r}; known kinds: {', '.join(KINDS)}")
        name = self._aliases[kind].get(name, name)
        try:
            return self._components[kind][name]
        except KeyError:
            known = ", ".join(self.names(kind)) or "(none installed)"
            raise UnknownComponentError(
                f"unknown {kind} {name!r}; known {kind}s: {known}. "
                f"Install the plugin that provides it, or run `sampt plugins` to see what is installed."
            ) from None

    def create(self, kind: str, name: str, **options: Any) -> Any:
        """Build component ``name`` with ``options`` as its keyword arguments (checked against its signature)."""
        entry = self.entry(kind, name)
        params = entry.parameters()
        accepts_any = any(p.kind == p.VAR_KEYWORD for p in inspect.signature(entry.resolve()).parameters.values())
        unknown = [k for k in options if k not in params]
        if unknown and not accepts_any:
            raise UnknownComponentError(
                f"{kind}.{unknown[0]} is not an option of {kind} {entry.name!r}; "
                f"its options are: {', '.join(params) or '(none)'}"
            )
        from sampt.constraints import check_options

        check_options(entry.resolve(), options, f"{kind} {entry.name!r}: option")
        return entry.resolve()(**options)
