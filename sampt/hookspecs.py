"""The plugin hooks, all in one place. A plugin implements any of them with ``@sampt.hookimpl``.

Each hook receives a ``register`` callback and calls it once per thing it provides:

    @sampt.hookimpl
    def register_trackers(register):
        register("my_tracker", MyTracker, description="...")

Plugins are found through the ``sampt`` entry-point group (``[project.entry-points.sampt]``); sampt's
own built-in components register through that same group.
"""
from __future__ import annotations

from typing import Callable

import pluggy

hookspec = pluggy.HookspecMarker("sampt")
hookimpl = pluggy.HookimplMarker("sampt")


@hookspec
def register_trackers(register: Callable) -> None:
    """Register trackers: ``register(name, factory, description="", aliases=(), defaults=None)``; ``defaults``
    are preset options the name stands for (``sam_vit_b``: ``{"variant": "sam_vit_b"}``)."""


@hookspec
def register_segmenters(register: Callable) -> None:
    """Register segmenters: ``register(name, factory, description="", aliases=(), defaults=None)``; ``defaults``
    are preset options the name stands for (``sam_vit_b``: ``{"variant": "sam_vit_b"}``)."""


@hookspec
def register_samplers(register: Callable) -> None:
    """Register point samplers: ``register(name, factory, description="", aliases=())``."""


@hookspec
def register_methods(register: Callable) -> None:
    """Register whole VOS methods (bench competitors of SAM-PT, see :mod:`sampt.methods`):
    ``register(name, factory, description="", aliases=())``; ``factory(**options)`` returns a
    :class:`~sampt.methods.VOSMethod`."""


@hookspec
def register_weights(register: Callable) -> None:
    """Register known checkpoints: ``register(sampt.weights.WeightsSpec(...))``."""


@hookspec
def register_commands(cli) -> None:
    """Add sub-commands to the ``sampt`` command line: ``cli`` is the ``argparse`` sub-parsers object."""
