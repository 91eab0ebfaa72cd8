"""The weights manager against a local HTTP server (127.0.0.1, a thread): download, verification,
resume after an interrupted transfer, offline errors, and state-dict mismatch rejection."""
from __future__ import annotations

import hashlib
import http.server
import os
import re
import threading
from pathlib import Path

import numpy as np
import pytest

from sampt import weights
from sampt.weights import WeightsError, WeightsSpec

PAYLOAD = np.random.default_rng(0).integers(0, 256, size=300_000, dtype=np.uint8).tobytes()
SHA = hashlib.sha256(PAYLOAD).hexdigest()


class _Server:
    """Serves ``files`` (name -> bytes). ``cut_after`` (name -> n): announce the full length but close the
    connection after ``n`` bytes. ``honour_range``: answer ``Range`` requests with 206. Requests are logged."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.cut_after: dict[str, int] = {}
        self.honour_range = True
        self.requests: list[tuple[str, str | None]] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # keep pytest output clean
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                name = self.path.lstrip("/")
                rng = self.headers.get("Range")
                server.requests.append((name, rng))
                if name not in server.files:
                    self.send_error(404)
                    return
                data = server.files[name]
                start = 0
                m = re.match(r"bytes=(\d+)-$", rng or "")
                if m and server.honour_range:
                    start = int(m.group(1))
                    if start >= len(data):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(data)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                cut = server.cut_after.pop(name, None)
                self.wfile.write(body if cut is None else body[:cut])
                self.wfile.flush()
                self.close_connection = True

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{name}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = _Server()
    yield s
    s.close()


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv(weights.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.delenv(weights.OFFLINE_ENV, raising=False)
    return tmp_path / "cache"


def _spec(server: _Server, name: str = "ckpt.pth", sha: str | None = SHA, size: int | None = len(PAYLOAD)) -> WeightsSpec:
    return WeightsSpec("test_ckpt", server.url(name), "test_ckpt.pth", sha, size, "test", "a test file")


def test_cache_dir_follows_env(tmp_path, monkeypatch):
    monkeypatch.setenv(weights.CACHE_ENV, str(tmp_path / "c"))
    assert weights.cache_dir() == tmp_path / "c"
    monkeypatch.delenv(weights.CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert weights.cache_dir() == tmp_path / "xdg" / "sampt" / "weights"


def test_download_success_then_cached(server, cache):
    server.files["ckpt.pth"] = PAYLOAD
    spec = _spec(server)
    assert not weights.is_present(spec)
    path, got = weights.resolve(None, spec.name, {spec.name: spec}, progress=False)
    assert got == spec and path == weights.cached_path(spec) == cache / "test_ckpt.pth"
    assert path.read_bytes() == PAYLOAD
    assert weights.is_present(spec)
    assert not path.with_name(path.name + ".part").exists()
    # A second resolve uses the cache: no new request.
    n = len(server.requests)
    path2, _ = weights.resolve("test_ckpt", None, {spec.name: spec}, progress=False)
    assert path2 == path and len(server.requests) == n
    # `sampt weights fetch` of a present file keeps it (no request either).
    assert weights.download(spec, progress=False) == path and len(server.requests) == n


def test_corrupted_download_rejected(server, cache):
    bad = bytearray(PAYLOAD)
    bad[1234] ^= 0xFF
    server.files["ckpt.pth"] = bytes(bad)
    spec = _spec(server)
    with pytest.raises(WeightsError, match="SHA-256") as err:
        weights.download(spec, progress=False)
    assert SHA in str(err.value) and spec.url in str(err.value)
    dest = weights.cached_path(spec)
    assert not dest.exists() and not dest.with_name(dest.name + ".part").exists()


def test_wrong_size_download_rejected(server, cache):
    server.files["ckpt.pth"] = PAYLOAD[:-10]
    with pytest.raises(WeightsError, match="bytes but test_ckpt"):
        weights.download(_spec(server), progress=False)
    assert not weights.cached_path(_spec(server)).exists()


def test_corrupted_cache_file_rejected(server, cache):
    spec = _spec(server)
    cache.mkdir(parents=True)
    bad = bytearray(PAYLOAD)
    bad[-1] ^= 1
    weights.cached_path(spec).write_bytes(bytes(bad))
    with pytest.raises(WeightsError, match="corrupt or a different model"):
        weights.resolve(None, spec.name, {spec.name: spec}, progress=False)
    assert server.requests == []


def test_interrupted_download_resumes_with_range(server, cache):
    server.files["ckpt.pth"] = PAYLOAD
    server.cut_after["ckpt.pth"] = 100_000
    spec = _spec(server)
    dest = weights.cached_path(spec)
    part = dest.with_name(dest.name + ".part")
    with pytest.raises(WeightsError, match="resume"):
        weights.download(spec, progress=False)
    assert not dest.exists()
    assert part.stat().st_size == 100_000 and part.read_bytes() == PAYLOAD[:100_000]
    path = weights.download(spec, progress=False)
    assert path == dest and dest.read_bytes() == PAYLOAD and not part.exists()
    assert server.requests[-1] == ("ckpt.pth", "bytes=100000-")


def test_resume_restarts_when_server_ignores_range(server, cache):
    server.files["ckpt.pth"] = PAYLOAD
    server.honour_range = False
    spec = _spec(server)
    dest = weights.cached_path(spec)
    cache.mkdir(parents=True)
    dest.with_name(dest.name + ".part").write_bytes(b"x" * 5000)  # stale junk: must not be kept
    assert weights.download(spec, progress=False).read_bytes() == PAYLOAD


def test_complete_part_file_is_verified_without_refetching_bytes(server, cache):
    server.files["ckpt.pth"] = PAYLOAD
    spec = _spec(server, size=None)  # size unknown: the server's 416 says the .part is whole
    dest = weights.cached_path(spec)
    cache.mkdir(parents=True)
    dest.with_name(dest.name + ".part").write_bytes(PAYLOAD)
    assert weights.download(spec, progress=False).read_bytes() == PAYLOAD
    assert server.requests == [("ckpt.pth", f"bytes={len(PAYLOAD)}-")]


def test_offline_error_names_file_place_and_url(server, cache, monkeypatch):
    spec = _spec(server)
    monkeypatch.setenv(weights.OFFLINE_ENV, "1")
    with pytest.raises(WeightsError) as err:
        weights.resolve(None, spec.name, {spec.name: spec}, progress=False)
    msg = str(err.value)
    assert spec.filename in msg and str(cache) in msg and spec.url in msg and weights.OFFLINE_ENV in msg
    assert server.requests == []


def test_unreachable_server_error_names_file_place_and_url(server, cache):
    spec = _spec(server)
    server.close()  # nothing listens on that port any more
    with pytest.raises(WeightsError) as err:
        weights.resolve(None, spec.name, {spec.name: spec}, progress=False)
    msg = str(err.value)
    assert spec.filename in msg and str(cache) in msg and spec.url in msg and "checkpoint" in msg
    assert not weights.cached_path(spec).exists()


def test_http_error_is_reported(server, cache):
    spec = _spec(server, name="missing.pth")
    with pytest.raises(WeightsError, match="HTTP 404"):
        weights.download(spec, progress=False)


def test_local_path_always_wins(tmp_path, cache, monkeypatch):
    monkeypatch.setenv(weights.OFFLINE_ENV, "1")
    f = tmp_path / "mine.pth"
    f.write_bytes(b"abc")
    path, spec = weights.resolve(str(f), "test_ckpt", {}, progress=False)
    assert path == f and spec is None
    with pytest.raises(WeightsError, match="does not exist"):
        weights.resolve(str(tmp_path / "nope.pth"), None, {}, progress=False)


def test_verified_stamp_skips_rehash_until_file_changes(server, cache, monkeypatch):
    server.files["ckpt.pth"] = PAYLOAD
    spec = _spec(server)
    path = weights.download(spec, progress=False)
    calls = []
    real = weights.sha256_of
    monkeypatch.setattr(weights, "sha256_of", lambda p, *a: calls.append(p) or real(p, *a))
    weights.resolve(None, spec.name, {spec.name: spec}, progress=False)
    assert calls == []  # the stamp written after the download vouches for this file
    bad = bytearray(PAYLOAD)
    bad[0] ^= 1
    path.write_bytes(bytes(bad))
    os.utime(path, ns=(1, 1))
    with pytest.raises(WeightsError, match="SHA-256"):
        weights.resolve(None, spec.name, {spec.name: spec}, progress=False)


def test_state_dict_key_mismatch_rejected(tmp_path):
    torch = pytest.importorskip("torch")
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    good = tmp_path / "good.pth"
    torch.save({"model": model.state_dict()}, good)
    weights.load_into(model, good, what="tiny net")  # nested {"model": ...} is unwrapped

    renamed = {k.replace("2.", "3."): v for k, v in model.state_dict().items()}
    torch.save(renamed, tmp_path / "renamed.pth")
    with pytest.raises(WeightsError) as err:
        weights.load_into(model, tmp_path / "renamed.pth", what="tiny net")
    msg = str(err.value)
    assert "tiny net" in msg and "missing keys" in msg and "2.weight" in msg and "unexpected keys" in msg

    other = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.ReLU(), torch.nn.Linear(5, 2))
    torch.save(other.state_dict(), tmp_path / "shape.pth")
    with pytest.raises(WeightsError, match=r"shape mismatches \(e.g. 0.weight: file \(5, 3\) vs model \(4, 3\)\)"):
        weights.load_into(model, tmp_path / "shape.pth", what="tiny net")

    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsError, match="could not be read"):
        weights.load_into(model, tmp_path / "junk.pth")


def test_optional_prefixes_may_be_absent(tmp_path):
    torch = pytest.importorskip("torch")
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
    state = {k: torch.full_like(v, 0.5) for k, v in model.state_dict().items() if not k.startswith("1.")}
    torch.save(state, tmp_path / "partial.pth")
    with pytest.raises(WeightsError, match="missing keys"):
        weights.load_into(model, tmp_path / "partial.pth")
    before = model[1].weight.detach().clone()
    weights.load_into(model, tmp_path / "partial.pth", optional_prefixes=("1.",))
    assert torch.all(model[0].weight == 0.5) and torch.equal(model[1].weight, before)


def test_load_checkpoint_resolves_unpacks_checks_family_and_loads(tmp_path, cache):
    """The one loader every plugin uses: a known name or a path, tar archives, the family check."""
    import tarfile

    torch = pytest.importorskip("torch")
    model = torch.nn.Linear(3, 2)
    weights_file = tmp_path / "fam_a.pth"
    torch.save({"model_state_dict": model.state_dict()}, weights_file)
    known = {"a": WeightsSpec("a", "http://127.0.0.1:9/fam_a.pth", "fam_a.pth", family="fam_a"),
             "b": WeightsSpec("b", "http://127.0.0.1:9/fam_b.pth", "fam_b.pth", family="fam_b")}
    fresh = torch.nn.Linear(3, 2)
    assert weights.load_checkpoint(fresh, str(weights_file), "a", known, family="fam_a") == weights_file
    assert torch.equal(fresh.weight, model.weight)

    # a file carrying another family's official name is refused before loading, naming both
    other = tmp_path / "fam_b.pth"
    other.write_bytes(weights_file.read_bytes())
    with pytest.raises(WeightsError, match="is b \\(fam_b\\), not a fam_a checkpoint"):
        weights.load_checkpoint(torch.nn.Linear(3, 2), str(other), "a", known, family="fam_a")

    archive = tmp_path / "release.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(weights_file, arcname="release/model-000100.pth")
    fresh = torch.nn.Linear(3, 2)
    loaded = weights.load_checkpoint(fresh, str(archive), None, known)
    assert loaded.name == "release.tar.gz.model-000100.pth" and torch.equal(fresh.bias, model.bias)
    with pytest.raises(WeightsError, match="does not match"):
        weights.load_checkpoint(torch.nn.Linear(4, 2), str(archive), None, known)
