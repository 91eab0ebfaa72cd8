"""The site's generated pages: the command-line reference (``cli.md``) from sampt's argparse definitions and
the configuration reference (``configuration.md``) from the component registry and the pipeline's options
dataclass. An MkDocs hook (``mkdocs.yml``: ``hooks``) adds both pages at every build, so they cannot drift
from the code; nothing generated is committed.

Run as a script to print a page: ``python docs/hooks/reference.py cli`` (or ``configuration``)."""
from __future__ import annotations

import argparse
import dataclasses
import importlib.metadata
import inspect
import logging
import os
import sys
import typing
from typing import Any, Iterable

log = logging.getLogger("mkdocs.plugins.sampt_reference")

CORE_DISTRIBUTION = "sampt"
GENERATED = {"cli.md": "cli_page", "configuration.md": "configuration_page"}
# the config nodes that name a component, in the order configs/config.yaml lists them
COMPONENT_KINDS = {"tracker": "tracker", "segmenter": "segmenter", "positive_sampler": "sampler",
                   "negative_sampler": "sampler"}


def _cell(text: Any) -> str:
    """Text fit for one Markdown table cell."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _code(text: Any) -> str:
    text = str(text)
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def core_registry():
    """A registry of sampt's own built-ins only (the core distribution's entry points), so the CLI page
    documents sampt's commands whatever plugins happen to be installed where the site is built."""
    from sampt.plugins import Registry, plugin_manager

    points = sorted((ep for ep in importlib.metadata.entry_points(group="sampt")
                     if ep.dist is not None and ep.dist.name == CORE_DISTRIBUTION), key=lambda ep: ep.name)
    modules = [ep.load() for ep in reversed(points)]  # pluggy calls the last registered first: run, demo, ...
    if not modules:
        raise RuntimeError("sampt's entry points are not installed: pip install -e . before building the docs")
    return Registry(plugin_manager(extra_plugins=modules, load_entry_points=False))


# --------------------------------------------------------------------------------------------------- CLI

def _option_name(action: argparse.Action) -> str:
    if not action.option_strings:
        return action.metavar or action.dest
    names = ", ".join(action.option_strings)
    if action.nargs == 0:
        return names
    metavar = action.metavar or (action.dest.upper() if not action.choices else "{" + ",".join(map(str, action.choices)) + "}")
    return f"{names} {metavar if isinstance(metavar, str) else ' '.join(metavar)}"


def _help_of(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    formatter = parser._get_formatter()
    text = formatter._expand_help(action) if action.help else ""
    default = action.default
    shown = (action.option_strings and action.nargs != 0 and default not in (None, argparse.SUPPRESS, [], "")
             and "default" not in text)
    return f"{text} (default: {_code(default)})" if shown else text


def _arguments_table(parser: argparse.ArgumentParser) -> list[str]:
    rows = [a for a in parser._actions if a.help is not argparse.SUPPRESS and not isinstance(a, argparse._SubParsersAction)]
    lines = ["| argument | meaning |", "|---|---|"]
    lines += [f"| {_code(_option_name(a))} | {_cell(_help_of(parser, a))} |" for a in rows]
    return lines


def _usage(parser: argparse.ArgumentParser) -> str:
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "110"  # argparse wraps the usage at the terminal's width: fix it for the page
    try:
        return parser.format_usage().strip()
    finally:
        if old is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = old


def cli_page() -> str:
    """The command-line reference: every command of ``sampt`` with its usage, arguments and examples."""
    from sampt.cli import build_parser

    parser = build_parser(core_registry())
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    summaries = {c.dest: c.help for c in sub._choices_actions}
    out = ["# Command line", "",
           "<!-- generated from sampt's argparse definitions by docs/hooks/reference.py: do not edit -->", "",
           "Every command below is `sampt COMMAND`; `sampt COMMAND --help` prints the same text. Options that "
           "apply to all commands:", "", *_arguments_table(parser), "", "| command | what it does |", "|---|---|"]
    out += [f"| [`{name}`](#sampt-{name.replace('_', '-')}) | {_cell(summaries.get(name, ''))} |" for name in sub.choices]
    for name, command in sub.choices.items():
        out += ["", f"## sampt {name}", "", _cell(command.description or summaries.get(name, "")), "",
                "```text", _usage(command), "```", "", *_arguments_table(command)]
        if command.epilog:
            out += ["", "```text", command.epilog.strip("\n"), "```"]
    return "\n".join(out) + "\n"


# ------------------------------------------------------------------------------------------ configuration

def _type_text(annotation: Any) -> str:
    from sampt.plugins import type_name

    if annotation is inspect.Parameter.empty:
        return ""
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) is not None:  # Optional[int] -> "Optional[int]", not "Optional"
        return str(annotation).replace("typing.", "").replace("NoneType", "None")
    return type_name(annotation)


def _options_table(rows: Iterable[list[str]]) -> list[str]:
    rows = list(rows)
    if not rows:
        return ["No options."]
    lines = ["| option | type | default | allowed |", "|---|---|---|---|"]
    lines += [f"| {_code(k)} | {_cell(t)} | {_code(v) if v else '(required)'} | {_cell(a)} |" for k, v, t, a in rows]
    return lines


def _pipeline_rows() -> list[list[str]]:
    from sampt.constraints import option_constraints
    from sampt.pipeline.options import SamPtOptions
    from sampt.ui.options import format_value

    declared = option_constraints(SamPtOptions)
    hints = typing.get_type_hints(SamPtOptions)
    rows = []
    for f in dataclasses.fields(SamPtOptions):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        rows.append([f.name, format_value(default), _type_text(hints[f.name]),
                     "; ".join(str(c) for c in declared.get(f.name, []))])
    return rows


def configuration_page() -> str:
    """The configuration reference: the default composition's groups, the pipeline's options and every
    installed component's options with type, default and allowed range, read from the registry."""
    from sampt.config import config_dir
    from sampt.plugins import KINDS, Registry
    from sampt.ui.options import option_rows

    registry = Registry()
    out = ["# Configuration reference", "",
           "<!-- generated from the component registry and SamPtOptions by docs/hooks/reference.py: do not edit -->",
           "", "`configs/config.yaml` is the default composition. `GROUP=NAME` picks a component (or a pipeline "
           "preset), `NODE.OPTION=VALUE` sets one of its options; values are checked against the types and ranges "
           "below before any work (`sampt config ...` prints the composed result).", "",
           "```yaml", (config_dir() / "config.yaml").read_text().strip(), "```", "",
           "| node | picks a | presets |", "|---|---|---|"]
    for node, kind in COMPONENT_KINDS.items():
        out.append(f"| `{node}` | {kind} | {', '.join(f'`{n}`' for n in registry.names(kind))} |")
    presets = sorted(p.stem for p in (config_dir() / "pipeline").glob("*.yaml"))
    out.append(f"| `pipeline` | options (`SamPtOptions`) | {', '.join(f'`{p}`' for p in presets)} |")
    out += ["", "## pipeline", "", "`pipeline.OPTION=VALUE` (`sampt.pipeline.options.SamPtOptions`); "
            "`pipeline=NAME` loads `configs/pipeline/NAME.yaml` first.", "", *_options_table(_pipeline_rows())]
    for kind in KINDS:
        names = registry.names(kind)
        if not names:
            continue
        out += ["", f"## {kind}s", ""]
        for name in names:
            entry = registry.entry(kind, name)
            description = _cell(entry.description).rstrip(".")
            out += [f"### {kind} `{name}`", "", f"{description}{'. ' if description else ''}Provided by `{entry.plugin}`."]
            if entry.defaults:
                preset = ", ".join(f"`{k}={v!r}`" for k, v in entry.defaults.items())
                out += ["", f"Preset (not settable): {preset}."]
            types = {k: _type_text(a) for k, a in entry.annotations().items()}
            rows = [[key, value, types[key], allowed] for key, value, _, allowed in option_rows(registry, kind, name)]
            out += ["", *_options_table(rows), ""]
    return "\n".join(out).rstrip() + "\n"


# ------------------------------------------------------------------------------------------- MkDocs hook

def on_files(files, config):
    """Add the generated pages to the site (MkDocs event)."""
    from mkdocs.structure.files import File

    for uri, function in GENERATED.items():
        existing = files.get_file_from_path(uri)
        if existing is not None:
            raise RuntimeError(f"docs/{uri} is generated by docs/hooks/reference.py: remove the file")
        files.append(File.generated(config, uri, content=globals()[function]()))
    return files


if __name__ == "__main__":
    page = {"cli": cli_page, "configuration": configuration_page}[sys.argv[1]]
    sys.stdout.write(page())
