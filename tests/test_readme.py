"""Every code block of the README and of the documentation site's hand-written pages (``docs/*.md``) runs as
pasted: Python blocks are executed, every `sampt ...` command of a
shell block is run (on a small generated clip named as the README names its inputs), the rest of a shell
block is syntax-checked with `bash -n`, TOML blocks are parsed. A shell block preceded by
`<!-- tests: parse only (REASON) -->` needs what a test machine lacks (a Ray cluster, checkpoints): its
commands are parsed by sampt's argument parser, not run."""
from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from sampt.cli import main
from sampt.data.synthetic import make_clip, write_davis
from sampt.io import write_frames, write_label_png, write_video
from sampt.testing import repo_root

BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)
PARSE_ONLY = re.compile(r"<!-- tests: parse only \(([^)]+)\) -->\s*$")


def documents() -> list[Path]:
    """The README, then the site's hand-written pages (the generated ones are not files), in name order."""
    return [repo_root() / "README.md", *sorted((repo_root() / "docs").glob("*.md"))]


def readme_blocks(parse_only: bool = False) -> list:
    """``(kind, code)`` of every block of every document; with ``parse_only`` also whether it is marked
    parse-only."""
    out = []
    for document in documents():
        text = document.read_text()
        for m in BLOCK.finditer(text):
            marked = bool(PARSE_ONLY.search(text[:m.start()].rstrip("\n").rsplit("\n", 1)[-1]))
            out.append((m.group(1), m.group(2), marked) if parse_only else (m.group(1), m.group(2)))
    return out


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """The inputs the README's examples name: video.mp4, first_frame.png, frames/, DAVIS_ROOT (sequence bear)."""
    root = tmp_path_factory.mktemp("readme")
    clip = make_clip(seed=0, num_frames=4, height=48, width=64, num_objects=2)
    write_video(root / "video.mp4", clip.video, fps=8)
    write_label_png(root / "first_frame.png", clip.label_map(0))
    write_frames(root / "frames", clip.video)
    write_davis(root / "DAVIS_ROOT", [make_clip(seed=1, num_frames=4, height=48, width=64, num_objects=1, name="bear")])
    return root


def test_the_readme_has_the_blocks_this_test_runs():
    kinds = [k for k, _ in readme_blocks()]
    assert set(kinds) <= {"python", "bash", "toml"}, kinds
    assert kinds.count("python") >= 2 and kinds.count("bash") >= 2
    first_screen = (repo_root() / "README.md").read_text().split("\n## ")[0]
    image = re.search(r"!\[[^\]]*\]\(([^)]+)\)", first_screen)
    assert image and (repo_root() / image.group(1)).is_file()  # the overlay the README shows is committed
    assert "sampt.segment(" in first_screen
    readme_commands = [code for kind, code in BLOCK.findall((repo_root() / "README.md").read_text()) if kind == "bash"][0]
    ci_command = [line for line in (repo_root() / ".ci" / "run").read_text().splitlines() if "pytest -q" in line and not line.startswith("#")][0]
    assert ci_command in readme_commands.splitlines()  # the README's second command is the one CI runs


def test_python_blocks_run(workdir, monkeypatch, capsys):
    monkeypatch.chdir(workdir)
    for kind, code in readme_blocks():
        if kind == "python":
            exec(compile(code, "README.md or docs/*.md", "exec"), {"__name__": "readme"})
    assert (workdir / "out" / "result.json").is_file()


@pytest.mark.slow  # runs `sampt demo` as pasted (24 frames)
def test_shell_blocks_run(workdir, monkeypatch, capsys):
    monkeypatch.chdir(workdir)
    from sampt.cli import build_parser, join_coordinate_values

    ran = parsed = 0
    seen = set()  # a command the README and a page both show runs once
    for kind, code, parse_only in readme_blocks(parse_only=True):
        if kind != "bash":
            continue
        if shutil.which("bash"):
            check = subprocess.run(["bash", "-n"], input=code, text=True, capture_output=True)
            assert check.returncode == 0, check.stderr
        for line in code.splitlines():
            for part in line.split("&&"):
                words = shlex.split(part, comments=True)
                if words and Path(words[0]).name == "sampt" and tuple(words[1:]) not in seen:
                    seen.add(tuple(words[1:]))
                    if parse_only:
                        args, extra = build_parser().parse_known_args(join_coordinate_values(words[1:]))
                        assert args.func is not None and all("=" in e for e in extra), part
                        parsed += 1
                    else:
                        assert main(words[1:]) == 0, part
                        ran += 1
    assert ran >= 10 and parsed <= 8
    assert (workdir / "out" / "export" / "coco.json").is_file()
    assert "J&F-Mean" in capsys.readouterr().out


def test_toml_blocks_parse():
    import tomllib

    for kind, code in readme_blocks():
        if kind == "toml":
            assert tomllib.loads(code)


def test_ci_runs_the_readmes_test_command_verbatim():
    first_block = next(code for kind, code in readme_blocks() if kind == "bash")
    test_command = first_block.strip().splitlines()[1]
    ci = (repo_root() / ".ci" / "run").read_text().splitlines()
    assert test_command in ci  # the same line, character for character
    # quiet (apt's "Setting up ..." lines go nowhere), parallel, and the slowest tests listed
    assert "chromium >/dev/null" in test_command
    assert " -n auto " in test_command and "--durations=" in test_command
