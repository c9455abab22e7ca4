"""Playing the games does not import torch: a user who only simulates does not pay for it.
Only a white-box principal's door, a bilevel game's ``bilevel_model()``, loads it."""

import subprocess
import sys

PLAY = """
import sys
import gymnasium as gym
import numpy as np
import mermaide, mermaide.envs
assert "torch" not in sys.modules, "import mermaide imported torch"
for env_id in ("Mermaide/StackelbergMarkov-v0", "Mermaide/IncentiveMDP-v0"):
    env = gym.make(env_id)
    env.reset(seed=0)
    env.step(env.action_space.sample())
    vector = gym.make_vec(env_id, num_envs=2, vectorization_mode="vector_entry_point")
    vector.reset(seed=0)
    vector.step(vector.action_space.sample())
assert "torch" not in sys.modules, "playing a bilevel game imported torch"
env.get_wrapper_attr("bilevel_model")()
assert "torch" in sys.modules
"""


def test_importing_and_playing_the_games_does_not_import_torch():
    subprocess.run([sys.executable, "-c", PLAY], check=True, timeout=120)
