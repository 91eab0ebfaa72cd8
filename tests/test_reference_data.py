"""The reference data the parity tests use lives in the repository, and cannot drift from its origin.

- Every golden file in a ``tests/reference`` folder has its README, loads without pickle, and every manifest
  is well formed (always run).
- ``sampt.testing.keyed_state`` follows its documented rule (always run) and gives bit-identical tensors to
  the original ``keyed_init.py`` for every manifest (run when the team's ``../shared`` folder is beside the
  checkout; skipped with the reason otherwise).
- The repository's copies equal ``../shared/reference`` byte for byte, both ways (same condition); data
  made in this repository, whose ``tests/reference`` holds its ``make_golden_*.py``, has no original there.
These two are the only tests that read ``../shared``.
"""
from __future__ import annotations

import importlib.util
import math
import zlib
from pathlib import Path

import numpy as np
import pytest

from sampt import testing

MANIFESTS = testing.reference_files("manifests", ".json")
GOLDEN = testing.reference_files("golden", ".npz")
KINDS = (("manifests", ".json"), ("golden", ".npz"))

# Every branch of the rule, edge shapes and dtypes; compared with the original generator as well.
EDGE_MANIFEST = {
    "bn.running_var": {"shape": [5], "dtype": "float32"},
    "bn.running_mean": {"shape": [5], "dtype": "float32"},
    "bn.num_batches_tracked": {"shape": [], "dtype": "int64"},
    "bn.weight": {"shape": [5], "dtype": "float32"},
    "ln.gamma": {"shape": [7], "dtype": "float64"},
    "layer_scale.scale": {"shape": [3], "dtype": "float16"},
    "conv.bias": {"shape": [4], "dtype": "float32"},
    "conv.weight": {"shape": [4, 3, 3, 3], "dtype": "float32"},
    "mlp.weight": {"shape": [6, 10]},
    "temperature": {"shape": [], "dtype": "float32"},
    "pos_embed": {"shape": [1, 1, 8], "dtype": "float32"},
    "mask": {"shape": [2, 2], "dtype": "bool"},
    "queue.ptr": {"shape": [1], "dtype": "int32"},
    "weight": {"shape": [2, 2, 2], "dtype": "float32"},
}
SEEDS = (0, 1, 123456789, 2**32 + 5, -3)


def _distinct_manifests() -> dict[str, str]:
    """One name per distinct manifest content (bootstapir_online's equals bootstapir's, and so on): the
    parity check covers every manifest without generating the same 55M values twice."""
    by_content: dict[bytes, list[str]] = {}
    for name, path in sorted(MANIFESTS.items()):
        by_content.setdefault(path.read_bytes(), []).append(name)
    return {"=".join(names): names[0] for names in by_content.values()}


DISTINCT = _distinct_manifests()


def _shared_reference() -> Path:
    try:
        return testing.shared_dir() / "reference"
    except FileNotFoundError as err:
        pytest.skip(f"no ../shared beside this checkout, so nothing to compare the repository copies with ({err})")


@pytest.fixture(scope="module")
def original_keyed_init():
    path = _shared_reference() / "keyed_init.py"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    spec = importlib.util.spec_from_file_location("original_keyed_init", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------------------- repository copies

def test_every_plugin_with_golden_tests_has_its_reference_data():
    assert {"pips", "pips2", "cotracker1", "cotracker2", "cotracker3_offline", "cotracker3_online",
            "tapir", "bootstapir", "bootstapir_online"} <= set(GOLDEN) & set(MANIFESTS)
    for path in [*GOLDEN.values(), *MANIFESTS.values()]:
        assert path.parent.parent.parts[-2:] == ("tests", "reference"), path


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_golden_file_has_readme_with_tolerance_and_loads(name):
    path = GOLDEN[name]
    readme = path.with_name(f"README-{name}.md")
    assert readme.is_file(), f"{path} has no {readme.name}"
    text = readme.read_text()
    assert f"{name}.npz" in text and "Tolerance" in text and "atol" in text
    with np.load(path, allow_pickle=False) as g:
        assert g.files and all(np.asarray(g[k]).size for k in g.files)
    assert testing.golden(name).files == np.load(path).files


@pytest.mark.parametrize("name", sorted(MANIFESTS))
def test_manifest_is_well_formed(name):
    spec = testing.manifest(name)
    assert spec, f"manifest {name} is empty"
    for key, entry in spec.items():
        dims = entry["shape"]
        assert all(isinstance(d, int) and d >= 0 for d in dims), (key, dims)
        assert entry.get("dtype", "float32") in ("float32", "int64"), (key, entry)


def test_lookup_errors_name_the_problem(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="(?s)'golden/no_such_model.npz' not found.*tests/reference"):
        testing.golden("no_such_model")
    extra = tmp_path / "reference"
    (extra / "manifests").mkdir(parents=True)
    (extra / "manifests" / "tiny.json").write_text('{"w": {"shape": [2, 3], "dtype": "float32"}}')
    monkeypatch.setenv(testing.REFERENCE_ENV, str(extra))
    assert testing.keyed_state_dict("tiny")["w"].shape == (2, 3)
    (extra / "manifests" / "pips.json").write_text("{}")
    with pytest.raises(FileExistsError, match="ambiguous"):
        testing.manifest("pips")


def test_an_installed_plugin_checkout_finds_its_own_reference_data(tmp_path, monkeypatch):
    """A third-party plugin in a src-layout checkout of its own, registered through the entry-point group:
    its tests/reference is found without any configuration."""
    project = tmp_path / "sampt-toy"
    (project / "src" / "sampt_toy").mkdir(parents=True)
    (project / "src" / "sampt_toy" / "__init__.py").write_text("")
    (project / "pyproject.toml").write_text('[project]\nname = "sampt-toy"\n')
    (project / "tests" / "reference" / "manifests").mkdir(parents=True)
    (project / "tests" / "reference" / "manifests" / "toy.json").write_text('{"head.bias": {"shape": [3]}}')
    info = tmp_path / "site" / "sampt_toy-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: sampt-toy\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[sampt]\ntoy = sampt_toy\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.syspath_prepend(str(project / "src"))
    testing._plugin_reference_dirs.cache_clear()
    try:
        assert (project / "tests" / "reference").resolve() in testing.reference_dirs()
        assert testing.manifest("toy") == {"head.bias": {"shape": [3]}}
    finally:
        testing._plugin_reference_dirs.cache_clear()


# ------------------------------------------------------------------------------------------ keyed weights

def test_keyed_array_follows_the_documented_rule():
    def z(key, shape, seed=0):
        return np.random.RandomState((zlib.crc32(key.encode()) ^ seed) & 0xFFFFFFFF).standard_normal(shape)

    ka = testing.keyed_array
    assert np.array_equal(ka("a.running_var", [4]), (1 + 0.1 * np.abs(z("a.running_var", 4))).astype(np.float32))
    assert np.array_equal(ka("a.running_mean", [4]), (0.1 * z("a.running_mean", 4)).astype(np.float32))
    assert np.array_equal(ka("a.gamma", [4], seed=9), (1 + 0.1 * z("a.gamma", 4, 9)).astype(np.float32))
    assert np.array_equal(ka("a.bias", [2, 2]), (0.02 * z("a.bias", (2, 2))).astype(np.float32))
    assert np.array_equal(ka("a.proj", [3]), (0.02 * z("a.proj", 3)).astype(np.float32))
    assert np.array_equal(ka("a.weight", [6, 2, 5]), (z("a.weight", (6, 2, 5)) / math.sqrt(10)).astype(np.float32))
    counter = ka("bn.num_batches_tracked", [], "int64")
    assert counter.shape == () and counter.dtype == np.int64 and counter == 0
    assert ka("t", []).shape == () and ka("t", [], "float64").dtype == np.float64
    # a key's value depends on its name, shape and the seed only, never on the other keys
    assert not np.array_equal(ka("a.weight", [6, 10]), ka("b.weight", [6, 10]))
    assert not np.array_equal(ka("a.weight", [6, 10]), ka("a.weight", [6, 10], seed=1))
    state = testing.keyed_state({"x.weight": {"shape": [3, 4]}, "a.weight": {"shape": [6, 2, 5]}})
    assert np.array_equal(state["a.weight"].numpy(), ka("a.weight", [6, 2, 5]))


@pytest.mark.parametrize("bad, match", [
    ({"w": {"shape": [2, -1]}}, "non-negative integers"),
    ({"w": {"shape": "2x3"}}, "non-negative integers"),
    ({"w": {"shape": [2.5]}}, "non-negative integers"),
    ({"w": {"shape": [2], "dtype": "bfloat16"}}, "dtype 'bfloat16' is not supported"),
    ({"w": [2, 3]}, "must be a mapping with a 'shape'"),
])
def test_bad_manifest_is_rejected_clearly(bad, match):
    pytest.importorskip("torch")
    with pytest.raises(ValueError, match=match):
        testing.keyed_state(bad)


def test_bad_seed_and_manifest_type_are_rejected():
    with pytest.raises(TypeError, match="integer seed"):
        testing.keyed_array("w", [2], seed=1.5)
    pytest.importorskip("torch")
    with pytest.raises(TypeError, match="mapping of state-dict keys"):
        testing.keyed_state([("w", {"shape": [2]})])


def test_keyed_state_loads_strictly_into_a_module():
    torch = pytest.importorskip("torch")
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.LayerNorm(4))
    spec = testing.manifest_of(model)
    assert spec["1.num_batches_tracked"] == {"shape": [], "dtype": "int64"}
    model.load_state_dict(testing.keyed_state(spec, seed=3), strict=True)
    assert torch.all(model[1].running_var >= 1) and int(model[1].num_batches_tracked) == 0


# --------------------------------------------------------------------- against ../shared (when present)

@pytest.mark.slow
@pytest.mark.parametrize("names", sorted(DISTINCT) + ["<edge cases>"])
def test_keyed_state_is_bit_identical_to_the_original(names, original_keyed_init):
    pytest.importorskip("torch")
    name = DISTINCT.get(names, names)
    spec = EDGE_MANIFEST if name == "<edge cases>" else testing.manifest(name)
    for seed in SEEDS if name == "<edge cases>" else SEEDS[:1]:
        ours, theirs = testing.keyed_state(spec, seed=seed), original_keyed_init.keyed_state(spec, seed=seed)
        assert list(ours) == list(theirs) == list(spec)
        for key, tensor in ours.items():
            assert list(tensor.shape) == spec[key]["shape"], key
            other = theirs[key]
            assert tensor.dtype == other.dtype and tensor.numel() == other.numel(), key
            # the original returns 0-d tensors with shape (1,); the values must match bit for bit
            assert tensor.contiguous().numpy().tobytes() == other.contiguous().numpy().tobytes(), (name, key, seed)


def test_repository_copies_equal_shared_byte_for_byte():
    shared = _shared_reference()
    problems = []
    for kind, suffix in KINDS:
        ours = testing.reference_files(kind, suffix)
        originals = {p.name[: -len(suffix)]: p for p in sorted((shared / kind).glob(f"*{suffix}"))}
        for name in sorted(set(originals) - set(ours)):
            problems.append(f"{originals[name]} has no copy in any <distribution>/tests/reference/{kind}/")
        for name in sorted(set(ours) - set(originals)):
            if any(ours[name].parent.parent.glob("make_golden_*.py")):
                continue  # made in this repository: its generator script is committed beside it
            problems.append(f"{ours[name]} has no original in {shared / kind} (copies only, never new data)")
        for name in sorted(set(ours) & set(originals)):
            if ours[name].read_bytes() != originals[name].read_bytes():
                problems.append(f"{ours[name]} differs from {originals[name]}: copy it again, byte for byte")
    assert not problems, "\n".join(problems)
