"""The logged DQN model loads where autoport is not installed (issue 17.13).

The model is logged as ``autoport train-agent`` logs it (:func:`model_log_kwargs`: autoport's
source as ``code_paths``, pinned requirements), registered, then loaded by ``models:/NAME/1``
in a new venv whose dependencies are this interpreter's but in which the installed autoport
is hidden (an import of it fails before the model is loaded; it is found only in the model's
own code folder afterwards). It predicts the same actions as the policy in this process, and
every module the load and the prediction import belongs to a listed requirement (or to what
those require).
"""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from autoport.envs import EnvConfig
from autoport.envs.portfolio_env import PortfolioEnv
from autoport.synthetic import regime_switching_prices

SMALL = EnvConfig(estimation_window=60, momentum_window=40, lookback=10, vol_window=10,
                  rebalance_every=5, episode_length=30, schedule="every_k", reward="log_return")

# Hides the installed autoport: `autoport` is found only on a model's code folder.
HIDE = """
import importlib.machinery, sys
class _OnlyModelCode:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] not in ('autoport', 'autoport_cli'):
            return None
        where = [p for p in sys.path if p.rstrip('/').endswith('code')] if path is None else path
        spec = importlib.machinery.PathFinder.find_spec(name, where)
        if spec is None:
            raise ModuleNotFoundError(f'No module named {name!r}', name=name)
        return spec
sys.meta_path.insert(0, _OnlyModelCode())
"""

LOAD = HIDE + """
import json, sys
try:
    import autoport
    before = 'importable'
except ModuleNotFoundError:
    before = 'missing'
modules_before = set(sys.modules)
import mlflow.pyfunc
model = mlflow.pyfunc.load_model('models:/fresh-dqn/1')
frame = model.predict(json.loads(sys.argv[1]))
import autoport
print(json.dumps({'before': before, 'autoport_file': autoport.__file__,
                  'actions': [int(a) for a in frame['action']],
                  'modules': sorted({m.split('.')[0] for m in set(sys.modules) - modules_before})}))
"""


# imported when installed, behind try/except ImportError: not needed to load or predict
OPTIONAL = {
    "tqdm": "stable-baselines3's progress bar", "rich": "tqdm.rich, for that progress bar",
    "pygments": "rich's", "numexpr": "pandas' optional accelerator",
    "psutil": "MLflow's optional system metrics",
    "colorama": "werkzeug's log handler (MLflow's server side), when present; the test extra's "
                "mkdocs-material brings it",
}


def _closure(names: list[str]) -> set[str]:
    """The distributions ``names`` need, transitively (environment markers evaluated, extras
    not followed)."""
    from importlib import metadata

    from packaging.requirements import Requirement

    seen: set[str] = set()
    todo = [n.lower().replace("_", "-") for n in names]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        for line in requires:
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name.lower().replace("_", "-"))
    return seen


@pytest.mark.slow
def test_registered_dqn_model_predicts_in_a_venv_without_autoport(tmp_path, monkeypatch):
    # a bare sqlite store puts its artifacts under ./mlruns (MLflow's default artifact root):
    # keep them in tmp_path, not in the folder pytest runs from
    monkeypatch.chdir(tmp_path)
    import mlflow
    from stable_baselines3 import DQN

    from autoport import tracking
    from autoport.strategies.dqn.policy import PolicyMapper
    from autoport.strategies.dqn.pyfunc import REQUIREMENTS, model_log_kwargs

    prices, _ = regime_switching_prices(300, seed=5)
    env = PortfolioEnv(prices, SMALL)
    mapper = PolicyMapper(DQN("MlpPolicy", env, seed=0, device="cpu", learning_starts=0),
                          SMALL, list(prices.columns))
    observations = [env.reset(seed=s)[0].tolist() for s in range(4)]
    expected = [mapper.action(np.asarray(o, dtype=np.float32)) for o in observations]

    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    os.environ["MLFLOW_TRACKING_URI"] = store
    try:
        _, uri = tracking.log_model_run(
            "fresh-env", run_name="dqn", params={}, metrics={},
            model_artifacts=mapper.save(tmp_path / "policy"),
            **model_log_kwargs(tmp_path / "code"))
        mlflow.set_tracking_uri(store)
        assert str(mlflow.register_model(uri, "fresh-dqn").version) == "1"
        requirements = Path(mlflow.pyfunc.get_model_dependencies("models:/fresh-dqn/1")
                            ).read_text().split()
    finally:
        os.environ.pop("MLFLOW_TRACKING_URI")

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    (site_dir,) = (venv / "lib").glob("python3*/site-packages")
    (site_dir / "deps.pth").write_text("".join(
        f"import site; site.addsitedir({d!r})\n" for d in site.getsitepackages()
        if Path(d).is_dir()))
    work = tmp_path / "work"
    work.mkdir()
    env_vars = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    env_vars["MLFLOW_TRACKING_URI"] = store
    done = subprocess.run([str(venv / "bin" / "python"), "-c", LOAD, json.dumps(observations)],
                          cwd=work, env=env_vars, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])

    assert seen["before"] == "missing"  # the installed autoport is out of reach
    assert "/code/autoport/" in seen["autoport_file"]  # ... the model's own copy served
    assert seen["actions"] == expected
    assert {r.split("==")[0] for r in requirements} == set(REQUIREMENTS)
    from importlib.metadata import packages_distributions

    owners = packages_distributions()
    needed = _closure(list(REQUIREMENTS))
    uncovered = {m: owners[m] for m in seen["modules"]
                 if m in owners and m != "autoport" and m not in OPTIONAL
                 and not {d.lower().replace("_", "-") for d in owners[m]} & needed}
    assert uncovered == {}, f"imported by the model but not required: {uncovered}"
