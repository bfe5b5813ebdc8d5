"""The CLI reference (docs/cli.md), generated from the commands themselves so it cannot drift.

    python -m perfops.cli.reference > docs/cli.md
"""

from __future__ import annotations

from typing import Any

import typer


def reference_markdown() -> str:
    from perfops.cli.app import app

    root = typer.main.get_command(app)
    lines = [
        "# Command line reference",
        "",
        "Generated from the commands (`python -m perfops.cli.reference > docs/cli.md`); a test fails when",
        "it is out of date. Every command takes `--workspace DIR` (env `PERFOPS_WORKSPACE`). Exit codes:",
        "0 success; 1 the input or configuration is wrong (the message names the file, line or field);",
        "2 bad usage; 3 a `compare-test --gate` check failed; 70 an internal error (a bug in perfops: please report it).",
        "",
    ]
    for path, command in _walk(root, "perfops"):
        lines += _command_section(path, command)
    return "\n".join(lines).rstrip() + "\n"


def _walk(command: Any, path: str) -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []
    if hasattr(command, "commands"):
        if path != "perfops" and command.callback is not None:
            found.append((path, command))
        for name in sorted(command.commands):
            found.extend(_walk(command.commands[name], f"{path} {name}"))
    else:
        found.append((path, command))
    return found


def _command_section(path: str, command: Any) -> list[str]:
    usage = " ".join([path, *[_usage(p) for p in command.params if p.param_type_name == "argument"]])
    lines = [f"## `{path}`", "", (command.help or "").strip().split("\n\n")[0], "", f"    {usage} [OPTIONS]", ""]
    options = [p for p in command.params if p.param_type_name == "option" and p.name != "help"]
    if options:
        lines += ["| option | meaning | default |", "| --- | --- | --- |"]
        for option in options:
            names = ", ".join(f"`{o}`" for o in option.opts)
            default = "" if option.is_flag or option.default in (None, False) else f"`{option.default}`"
            lines.append(f"| {names} | {(option.help or '').replace('|', '/')} | {default} |")
        lines.append("")
    return lines


def _usage(argument: Any) -> str:
    name = (argument.name or "").upper()
    return f"{name}..." if argument.nargs == -1 else name


if __name__ == "__main__":
    print(reference_markdown(), end="")
