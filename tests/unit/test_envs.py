"""`import gridledger` registers the Gymnasium envs; the PettingZoo envs come from gridledger.envs."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.seed_sensitive
def test_import_gridledger_registers_the_v2v_env_in_a_fresh_interpreter():
    code = ("import gridledger, gymnasium as gym\n"
            "env = gym.make('gridledger/V2V-v0')\n"
            "obs, _ = env.reset(seed=0)\n"
            "assert env.observation_space.contains(obs)\n"
            "print(type(env.unwrapped).__module__)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "gridledger.learn.fleet.env"


@pytest.mark.seed_sensitive
def test_envs_module_gives_every_env():
    from pettingzoo.test import parallel_api_test

    import gridledger.envs as envs

    assert set(envs.GYMNASIUM_ENVS) == {"gridledger/V2V-v0"}
    assert envs.V2VEnv.__name__ == "V2VEnv"
    parallel_api_test(envs.elecoin_parallel_env(max_slots=3), num_cycles=6)
