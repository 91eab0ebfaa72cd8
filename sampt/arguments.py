"""Command-line argument helpers shared by the ``sampt`` commands."""
from __future__ import annotations

import os
from typing import Optional, Sequence


def split_positional_override(positional: Optional[str], overrides: Sequence[str]) -> tuple[Optional[str], list[str]]:
    """A command taking ``[PATH] [KEY=VALUE ...]``: when PATH was left out, argparse puts the first override in
    its place. Such a value (holding ``=`` and naming no existing file) goes back to the overrides; returns
    ``(path or None, overrides)``."""
    if positional is not None and "=" in positional and not os.path.exists(positional):
        return None, [positional, *overrides]
    return positional, list(overrides)
