"""The CLI reference page is written from the Typer app: every command and option appears."""

from __future__ import annotations

import importlib.util
from pathlib import Path

HOOK = Path(__file__).resolve().parents[2] / "docs" / "hooks" / "cli_reference.py"


def load_hook():
    spec = importlib.util.spec_from_file_location("cli_reference", HOOK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_command_and_option_is_on_the_page():
    import typer.main

    from autoport_cli.main import app

    page = load_hook().on_page_markdown(f"# CLI\n\n{load_hook().MARKER}\n", None, None, None)
    group = typer.main.get_command(app)
    assert group.commands, "the app registers no command"
    for name, command in group.commands.items():
        assert f"## `autoport {name}`" in page
        section = page.split(f"## `autoport {name}`", 1)[1].split("\n## ", 1)[0]
        for param in command.params:
            for flag in param.opts:
                if flag.startswith("--"):
                    assert flag in section, (name, flag)


def test_a_page_without_the_marker_is_left_alone():
    text = "# Not the CLI page\n"
    assert load_hook().on_page_markdown(text, None, None, None) == text
