"""Where a measurement was taken: the machine (CPU, GPU, platform), package versions and the git revision.

Recorded with every benchmark so that numbers can be compared only with numbers from the same setup.
"""
from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Optional

VERSIONED = ("sampt", "numpy", "opencv-python-headless", "opencv-python", "omegaconf", "pluggy", "scipy",
             "torch", "torchvision", "matplotlib", "ray")
"""Distributions whose versions a benchmark records (those installed)."""


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``; the platform's processor string elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def gpu_name() -> Optional[str]:
    """The CUDA device's name when torch is already in use and CUDA is available (torch is not imported)."""
    torch = sys.modules.get("torch")
    try:
        if torch is not None and torch.cuda.is_available():
            return torch.cuda.get_device_name(0)
    except Exception:  # pragma: no cover - broken CUDA setups
        return None
    return None


def machine_info() -> dict:
    """CPU, core count, GPU, platform, Python, ``OMP_NUM_THREADS`` and host name of this process's machine."""
    return {"cpu": cpu_model(), "cpu_count": os.cpu_count(), "gpu": gpu_name(), "platform": platform.platform(),
            "python": platform.python_version(),
            "omp_num_threads": os.environ.get("OMP_NUM_THREADS"), "hostname": platform.node()}


def machine_label(info: dict) -> str:
    """One line naming a :func:`machine_info`: ``"<cpu> (N cores), GPU: <name>"`` or ``", no GPU"``."""
    return f"{info['cpu']} ({info['cpu_count']} cores)" + (f", GPU: {info['gpu']}" if info.get("gpu") else ", no GPU")


def package_versions() -> dict:
    """Installed versions of the :data:`VERSIONED` distributions, and OpenCV's own version string."""
    from importlib import metadata

    out = {}
    for dist in VERSIONED:
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    try:
        import cv2

        out["cv2"] = cv2.__version__
    except ImportError:  # pragma: no cover
        pass
    return out


def git_revision() -> dict:
    """The git commit of the sampt checkout and whether tracked files were modified (``{"commit": None}``
    for an installed sampt outside a checkout)."""
    root = Path(__file__).resolve().parents[1]
    try:
        rev = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=10)
        if rev.returncode != 0:
            return {"commit": None}
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10)
        return {"commit": rev.stdout.strip(), "dirty": bool(dirty.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None}


def provenance() -> dict:
    """``{"machine": ..., "versions": ..., "git": ...}``: everything above, for a result file's metadata."""
    return {"machine": machine_info(), "versions": package_versions(), "git": git_revision()}
