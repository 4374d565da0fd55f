"""Issue 17 item 5: a working area or output path that cannot be written is one message, exit 1.

Tests run as root here, where chmod cannot make a folder read-only; a read-only file system is
simulated where the OS would report it (``os.access`` false, ``mkdtemp`` raising EROFS), and
the chmod variant runs only for other users.
"""

from __future__ import annotations

import errno
import os

import pytest
from typer.testing import CliRunner

from autoport import data
from autoport_cli.main import app

ROOT = os.geteuid() == 0


def _prices(tmp_path):
    path = tmp_path / "p.csv"
    data.bundled_prices().loc["2018-01-01":"2019-06-28", ["AAPL", "KO", "XOM"]].to_csv(path)
    return path


def _optimize(tmp_path, *extra):
    return CliRunner().invoke(app, ["optimize", "--prices", str(_prices(tmp_path)), "--window",
                                    "all", "--frontier-points", "0", *extra])


def _text(result):
    return " ".join(result.output.split())


@pytest.mark.parametrize("track", [True, False])
def test_autoport_home_that_is_a_file(tmp_path, monkeypatch, track):
    home = tmp_path / "home"
    home.write_text("not a folder")
    monkeypatch.setenv("AUTOPORT_HOME", str(home))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    res = _optimize(tmp_path, *([] if track else ["--no-track"]))
    assert res.exit_code == 1, res.output
    assert f"AUTOPORT_HOME) {home} is a file, not a folder" in _text(res)
    assert "Traceback" not in res.output and home.read_text() == "not a folder"


def test_read_only_autoport_home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("AUTOPORT_HOME", str(home))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    if ROOT:  # what access(2) answers on a read-only mount, even for root
        real = os.access
        monkeypatch.setattr("autoport.workspace.os.access",
                            lambda p, mode: False if str(p) == str(home) else real(p, mode))
    else:
        home.chmod(0o555)
    res = _optimize(tmp_path)
    assert res.exit_code == 1, res.output
    assert f"AUTOPORT_HOME) {home} is read-only; set AUTOPORT_HOME" in _text(res)
    assert list(home.iterdir()) == []


def test_out_onto_an_existing_file(tmp_path, home):
    target = tmp_path / "result.txt"
    target.write_text("keep me")
    res = _optimize(tmp_path, "--no-track", "--out", str(target))
    assert res.exit_code == 1, res.output
    assert f"--out {target} is a file, not a folder; choose another --out" in _text(res)
    assert target.read_text() == "keep me"
    under = _optimize(tmp_path, "--no-track", "--out", str(target / "sub"))
    assert under.exit_code == 1 and "its parent folder is a file, not a folder" in _text(under)


def test_out_in_a_read_only_folder(tmp_path, home, monkeypatch):
    folder = tmp_path / "ro"
    folder.mkdir()
    if ROOT:
        def refuse(*args, **kwargs):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS))

        monkeypatch.setattr("autoport_cli.common.tempfile.mkdtemp", refuse)
    else:
        folder.chmod(0o555)
    res = _optimize(tmp_path, "--no-track", "--out", str(folder / "run"))
    assert res.exit_code == 1, res.output
    text = _text(res)
    assert f"--out {folder / 'run'}" in text and ("read-only" in text or "Read-only" in text)
    assert list(folder.iterdir()) == []
