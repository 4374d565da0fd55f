"""The ``autoport`` command line: a thin Typer shell over the core."""
