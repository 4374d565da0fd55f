"""Every ``python`` block of docs/library.md runs, in order, in one namespace.

The page is the user's first contact with the Python API; a renamed function or a changed
signature must fail here, not in a reader's notebook. The blocks run in a temporary folder (the
figures they save land there), without MLflow tracking.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parents[2] / "docs" / "library.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def python_blocks(text: str) -> list[str]:
    return BLOCK.findall(text)


def test_the_page_has_blocks_for_each_capability():
    text = PAGE.read_text()
    blocks = python_blocks(text)
    assert len(blocks) >= 8
    # every fenced block is a python block (a mistyped fence would silently skip a block)
    fences = re.findall(r"^```(\w*)", text, re.M)
    opening = fences[0::2]
    assert set(opening) == {"python"}, opening


def test_a_failing_block_fails_the_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(AssertionError):
        run_blocks(["x = 1\n", "assert x == 2\n"])


def run_blocks(blocks: list[str]) -> dict:
    namespace: dict = {"__name__": "library_page"}
    for i, block in enumerate(blocks):
        code = compile(block, f"{PAGE.name}[block {i}]", "exec")
        exec(code, namespace)  # noqa: S102 - the page's own code, the point of the test
    return namespace


@pytest.mark.slow  # 10 s of CPU, 40-100 s wall on the shared 2-core machine (SB3, regime refits)
def test_every_block_of_the_library_page_runs(tmp_path, monkeypatch, home):
    monkeypatch.chdir(tmp_path)
    namespace = run_blocks(python_blocks(PAGE.read_text()))
    assert (tmp_path / "frontier.png").stat().st_size > 10_000
    # the strategy written on the page went through the whole backtest beside 1/N
    outcome = namespace["outcome"]
    assert outcome.strategy.name == "inverse_vol" and outcome.baseline.name == "equal_weight"
    assert len(outcome.strategy.returns) == len(outcome.baseline.returns) > 400
