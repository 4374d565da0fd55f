"""MkDocs hook: the CLI reference page is written from the Typer app at build time.

The marker ``<!-- autoport-cli-reference -->`` on a page becomes, for every command registered
on ``autoport_cli.main:app``, its one-line summary and the exact text of
``autoport COMMAND --help`` (every option, its type and default), so the page cannot drift from
the code. A command whose help fails to render fails the build.

(mkdocs-typer2 and mkdocs-click expect click's own objects; Typer 0.29 carries its own click,
which they cannot read.)
"""

from __future__ import annotations

import os

MARKER = "<!-- autoport-cli-reference -->"
WIDTH = 100


def _help(app, args: list[str]) -> str:
    from typer.testing import CliRunner

    result = CliRunner().invoke(app, args, env={"COLUMNS": str(WIDTH), "NO_COLOR": "1",
                                               "TERM": "dumb"}, color=False)
    if result.exit_code != 0:
        raise RuntimeError(f"autoport {' '.join(args)} failed: {result.output}")
    return result.output.rstrip()


def render() -> str:
    import typer.main

    from autoport_cli.main import app

    group = typer.main.get_command(app)
    names = list(group.commands)
    parts = ["```text", "$ autoport --help", _help(app, ["--help"]), "```", ""]
    for name in names:
        parts += [f"## `autoport {name}`", "", "```text", f"$ autoport {name} --help",
                  _help(app, [name, "--help"]), "```", ""]
    return "\n".join(parts)


def on_page_markdown(markdown: str, page, config, files) -> str:
    if MARKER not in markdown:
        return markdown
    os.environ.setdefault("COLUMNS", str(WIDTH))
    return markdown.replace(MARKER, render())
