"""Training pins its own determinism: two runs of one seed give the same policy, bit for bit,
whatever torch threading the caller left behind, and the caller's settings come back."""

from __future__ import annotations

import pytest
import torch

from autoport.strategies.dqn.config import AgentConfig


def _weights(result) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in result.mapper.model.policy.state_dict().items()}


@pytest.mark.slow  # three tiny trainings: 57 s on the loaded 2-core box
def test_same_seed_same_policy_whatever_the_callers_threads(tiny_agent_prices,
                                                            tiny_agent_config, home):
    from autoport.strategies.dqn.train import train

    prices = tiny_agent_prices
    config = AgentConfig.model_validate(tiny_agent_config)
    threads = torch.get_num_threads()
    strict = torch.are_deterministic_algorithms_enabled()
    first = train(prices, config)
    try:
        torch.set_num_threads(2)  # what a caller (or OMP_NUM_THREADS) might leave set
        torch.use_deterministic_algorithms(False)
        torch.manual_seed(123)  # and a different global generator state
        second = train(prices, config)
        assert torch.get_num_threads() == 2  # restored, not left pinned
        assert not torch.are_deterministic_algorithms_enabled()
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(strict)

    assert first.timesteps == second.timesteps > 0
    assert first.test["success_rate"] == second.test["success_rate"]
    assert first.test["episodes"] == second.test["episodes"]
    assert first.validation_curve == second.validation_curve
    a, b = _weights(first), _weights(second)
    assert a.keys() == b.keys() and len(a) > 0
    for key in a:
        assert torch.equal(a[key], b[key]), key  # identical bits, not close

    other = train(prices, config.model_copy(update={"seed": 6}))
    c = _weights(other)
    assert any(not torch.equal(a[k], c[k]) for k in a)  # the seed does matter
