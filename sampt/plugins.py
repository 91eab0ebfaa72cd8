"""Plugin discovery and the component registry.

A :class:`Registry` is built from a pluggy ``PluginManager`` that loads every distribution declaring the
``sampt`` entry-point group (sampt's own built-ins included). Nothing is global: each ``Registry()`` is a
fresh view of what is installed, and tests can add plugin objects directly.
"""
from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import logging
import typing
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Optional, Union

import pluggy

import sampt.hookspecs as hookspecs
from sampt.constraints import expected_type, type_name, type_ok  # noqa: F401 (checked where declared)
from sampt.errors import ConfigError, SamptError, one_line, shown
from sampt.plugin_api import PLUGIN_API_VERSION, check_declared, declared_version

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "sampt"
KINDS = ("tracker", "segmenter", "sampler", "method")


class UnknownComponentError(SamptError, KeyError):
    """A component name that no installed plugin registers."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class OptionError(UnknownComponentError):
    """An option a component does not take, or an option value of the wrong type."""


@dataclass
class ComponentEntry:
    """One registered component: ``factory`` is a callable or a lazy ``"module:attribute"`` string, and
    ``defaults`` the preset options its name stands for (``sam_vit_b`` is the SAM segmenter with
    ``variant="vit_b"``): they are passed to the factory and are not options a config can set."""

    kind: str
    name: str
    factory: Union[Callable[..., Any], str]
    description: str = ""
    plugin: str = ""
    aliases: tuple[str, ...] = ()
    defaults: dict[str, Any] = field(default_factory=dict)

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
        """The factory's keyword parameters less the preset ones: the component's config keys."""
        sig = inspect.signature(self.resolve())
        return {
            n: p
            for n, p in sig.parameters.items()
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and n != "self" and n not in self.defaults
        }

    def annotations(self) -> dict[str, Any]:
        """Each config key's annotation (type hints resolved where they can be; the raw annotation else,
        ``inspect.Parameter.empty`` where there is none)."""
        hints = _hints(self.resolve())
        return {n: hints.get(n, p.annotation) for n, p in self.parameters().items()}

    def check_options(self, options: Mapping[str, Any], where: str = "", check_types: bool = True) -> None:
        """Raise :class:`OptionError` for an option the component does not take or (``check_types``) a
        value that does not match its annotation; ``where`` prefixes the key in the message (a config
        node such as ``tracker``). The one place a component's option keys are checked."""
        where = where or self.kind
        factory = self.resolve()
        params = self.parameters()
        accepts_any = any(p.kind == p.VAR_KEYWORD for p in inspect.signature(factory).parameters.values())
        annotations = self.annotations() if check_types else {}
        for key, value in options.items():
            if key not in params:
                if accepts_any and key not in self.defaults:
                    continue
                preset = f" ({key} is preset to {self.defaults[key]!r} by the name {self.name!r})" if key in self.defaults else ""
                raise OptionError(f"{where}.{key} does not exist for {self.kind} {self.name!r}{preset}; "
                                  f"its options are: {', '.join(params) or '(none)'}")
            if check_types:
                annotation = annotations[key]
                if not type_ok(value, annotation):
                    raise OptionError(f"{where}.{key}={shown(value)} has the wrong type; expected "
                                      f"{expected_type(annotation)}")

    def check_ranges(self, options: Mapping[str, Any], prefix: str) -> None:
        """Raise :class:`~sampt.errors.ConfigError` for a value outside the range its option declares
        (:mod:`sampt.constraints`)."""
        from sampt.constraints import check_options

        check_options(self.resolve(), options, prefix)

    def build(self, options: Mapping[str, Any]) -> Any:
        """The component, from its preset options and ``options`` (not checked here: see :meth:`check_options`)."""
        return self.resolve()(**{**self.defaults, **options})


def _hints(factory: Any) -> dict:
    target = factory.__init__ if inspect.isclass(factory) else factory
    try:
        return typing.get_type_hints(target)
    except Exception:  # annotations that cannot be evaluated: fall back to the raw ones
        return {}


@dataclass
class PluginInfo:
    """An installed plugin: its name, distribution version and what it registers."""

    name: str
    version: str = ""
    components: list[ComponentEntry] = field(default_factory=list)
    weights: list[str] = field(default_factory=list)
    api: Optional[str] = None
    """The plugin API version it declares (:mod:`sampt.plugin_api`), None when it declares none."""
    note: str = ""
    """A one-line note on its plugin API version (an adapted, deprecated one), with the fix."""


@dataclass
class BrokenPlugin:
    """An entry point that failed to load: reported by ``sampt plugins`` instead of breaking every command."""

    name: str
    distribution: str
    error: str


@dataclass
class IncompatiblePlugin:
    """A plugin written for a plugin API version this sampt does not provide: not loaded, and listed by
    ``sampt plugins`` with the one-line reason and the fix."""

    name: str
    distribution: str
    declared: str
    reason: str


def plugin_manager(extra_plugins: Iterable[Any] = (), load_entry_points: bool = True) -> pluggy.PluginManager:
    """A plugin manager with sampt's hook specifications and every installed plugin loaded.

    A plugin whose module fails to import is logged and listed in ``pm.sampt_broken`` rather than
    raising, so one broken third-party package does not take the command line down; one declaring a
    plugin API version this sampt does not provide is not registered and is listed in
    ``pm.sampt_incompatible``.
    """
    pm = pluggy.PluginManager("sampt")
    pm.add_hookspecs(hookspecs)
    pm.sampt_broken = []  # type: ignore[attr-defined]
    pm.sampt_incompatible = []  # type: ignore[attr-defined]
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
            if _admit(pm, plugin, ep.name, dist):
                pm.register(plugin, name=ep.name)
                pm.sampt_dists[ep.name] = (dist, version)
    for plugin in extra_plugins:
        if _admit(pm, plugin, getattr(plugin, "__name__", repr(plugin)), ""):
            pm.register(plugin)
    return pm


def _admit(pm: pluggy.PluginManager, plugin: Any, name: str, dist: str) -> bool:
    """Whether ``plugin``'s declared plugin API version works with this sampt; one that does not is
    logged and recorded in ``pm.sampt_incompatible``."""
    declared = declared_version(plugin)
    check = check_declared(declared)
    if check.compatible:
        return True
    log.warning("sampt plugin %s (%s) not loaded: %s", name, dist or "?", check.reason)
    pm.sampt_incompatible.append(IncompatiblePlugin(name, dist, str(declared), check.reason))
    return False


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
        self.incompatible: list[IncompatiblePlugin] = list(getattr(self.pm, "sampt_incompatible", []))
        self._collect()

    def _collect(self) -> None:
        """Call every plugin's registration hooks through pluggy, each implementation with a ``register``
        that records which plugin provided what."""
        for plugin in self.pm.get_plugins():
            label, version = _plugin_label(self.pm, plugin)
            declared = declared_version(plugin)
            self.plugins.setdefault(label, PluginInfo(label, version, api=declared,
                                                      note=check_declared(declared).reason))
        for kind in KINDS:
            for impl in getattr(self.pm.hook, f"register_{kind}s").get_hookimpls():
                info = self.plugins[_plugin_label(self.pm, impl.plugin)[0]]
                impl.function(register=self._registrar(kind, info))
        for impl in self.pm.hook.register_weights.get_hookimpls():
            impl.function(register=self._weights_registrar(self.plugins[_plugin_label(self.pm, impl.plugin)[0]]))

    def _weights_registrar(self, info: PluginInfo) -> Callable[[Any], None]:
        def register_weights(spec: Any) -> None:
            if spec.name in self.weights:
                raise ValueError(f"checkpoint {spec.name!r} registered twice")
            self.weights[spec.name] = spec
            info.weights.append(spec.name)

        return register_weights

    def _registrar(self, kind: str, info: PluginInfo) -> Callable[..., None]:
        def register(name: str, factory: Union[Callable[..., Any], str], description: str = "",
                     aliases: Iterable[str] = (), defaults: Optional[Mapping[str, Any]] = None) -> None:
            if name in self._components[kind] or name in self._aliases[kind]:
                other = self._components[kind].get(name)
                raise ValueError(
                    f"{kind} {name!r} is registered by both {other.plugin if other else '?'} and {info.name}"
                )
            entry = ComponentEntry(kind, name, factory, description, info.name, tuple(aliases), dict(defaults or {}))
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
            skipped = (f" {len(self.incompatible)} installed plugin(s) were not loaded: their plugin API version "
                       f"does not fit this sampt's {PLUGIN_API_VERSION}." if self.incompatible else "")
            raise UnknownComponentError(
                f"unknown {kind} {name!r}; known {kind}s: {known}.{skipped} "
                f"Install the plugin that provides it, or run `sampt plugins` to see what is installed."
            ) from None

    def create(self, kind: str, name: str, **options: Any) -> Any:
        """Build component ``name`` with ``options`` as its keyword arguments (an option it does not take
        raises :class:`OptionError` listing the ones it does)."""
        entry = self.entry(kind, name)
        entry.check_options(options, check_types=False)
        entry.check_ranges(options, kind)
        try:
            return entry.build(options)
        except SamptError:
            raise
        except ValueError as exc:  # a constructor refusing a value (or a combination) of its options
            raise ConfigError(f"{kind} {entry.name!r}: {one_line(exc)}") from exc
