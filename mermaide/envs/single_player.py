"""Single-player views of a two-player game: one side is a Gymnasium env, the other is fixed.

``as_agent_env(env, principal_policy)`` lets an RL algorithm (e.g. SB3 PPO) learn to *be the
agent* against a fixed principal; ``as_principal_env(env, agent_policy)`` lets it learn to be
the principal against a fixed agent. ``env`` is a two-player ``ParallelEnv`` of this package
(``bandit_parallel(...)``, ...), whose ``"principal"`` and ``"agent"`` players these views
split, or the one-round game's AEC form ``stackelberg_aec(...)``, whose views last one step
(the agent's starts once the fixed principal has committed).

The fixed side may be any of:

- a callable ``(obs, rng) -> action``, called every step with its player's observation;
- a learner name or a ``mermaide.agents`` ``Learner`` (B = 1), learning online from its own
  rewards (full-feedback learners are refused: the two-player game reports only the reward
  of the action taken);
- an SB3 model, or anything with ``predict(obs, deterministic=...)``, acting on its player's
  observation (``deterministic=True`` on the view: its most likely action);
- a principal, anything with ``act(obs, state) -> (action, state)``; state is None at the
  start of each episode;
- ``None``, on the agent side only: the learner that the episode's task (``AgentSpec``,
  ``MatrixGame``) names, the agent the Gymnasium form would play.

Every draw of the fixed side comes from the view's generator, seeded by ``reset(seed=...)``.
The view's ``info`` is the game's full step info (``env.game_info``: true agent action and
reward, ``target_hit``, ...), as the Gymnasium forms report it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from mermaide.agents import make as make_learner
from mermaide.agents.base import Learner
from mermaide.agents.sb3_policy import policy_actions
from mermaide.envs.parallel import AGENT, PRINCIPAL, TwoPlayerParallelEnv, check_action
from mermaide.envs.stackelberg import StackelbergAECEnv

# The games a view can split: the parallel forms, and the one-round game's AEC form.
TwoPlayerGame = TwoPlayerParallelEnv | StackelbergAECEnv


class FixedPolicy(Protocol):
    """The side of the game that the single-player view plays itself."""

    def reset(self, rng: np.random.Generator, env: TwoPlayerGame) -> None:
        """A new episode of ``env`` starts (it has just been reset)."""
        ...

    def act(self, observation: np.ndarray) -> Any:
        ...

    def observe(self, action: Any, reward: float) -> None:
        """What the policy's action earned it this step."""
        ...


class CallablePolicy:
    def __init__(self, function: Callable[[np.ndarray, np.random.Generator], Any]):
        self.function = function

    def reset(self, rng: np.random.Generator, env: TwoPlayerGame) -> None:
        self.rng = rng

    def act(self, observation: np.ndarray) -> Any:
        return self.function(observation, self.rng)

    def observe(self, action: Any, reward: float) -> None:
        pass


class LearnerPolicy:
    """A batched learner at B = 1, reset each episode, learning from its own rewards.

    ``learner_for(env)`` gives the learner to play the episode that ``env`` has just begun.
    """

    def __init__(self, learner_for: Callable[[TwoPlayerParallelEnv], Learner],
                 action_space: spaces.Space[Any]):
        if not isinstance(action_space, spaces.Discrete):
            raise ValueError(f"a learner can only play a Discrete action space, got "
                             f"{action_space}")
        self.learner_for, self.n_actions = learner_for, int(action_space.n)

    def reset(self, rng: np.random.Generator, env: TwoPlayerGame) -> None:
        learner = _bandit_feedback(self.learner_for(env))
        learner.reset(1, self.n_actions, rng)
        self.learner, self.rng = learner, rng

    def act(self, observation: np.ndarray) -> Any:
        return int(self.learner.act(self.rng)[0])

    def observe(self, action: Any, reward: float) -> None:
        self.learner.update(np.array([action]), np.array([reward]))


class ModelPolicy:
    """An SB3 model, or anything with ``predict(obs, deterministic=...)``.

    Discrete actions are sampled from the policy's distribution with the view's generator
    (``policy_actions``); other actions come from ``predict`` with torch's generator seeded
    from the view's, inside ``fork_rng`` so torch's global state is left as it was.
    """

    def __init__(self, model: Any, deterministic: bool, action_space: spaces.Space[Any],
                 observation_space: spaces.Space[Any]):
        trained_on = getattr(model, "observation_space", None)
        if trained_on is not None and trained_on.shape != observation_space.shape:
            raise ValueError(f"the model was trained on observations of shape "
                             f"{trained_on.shape}, but its player here sees shape "
                             f"{observation_space.shape}")
        self.model, self.deterministic = model, deterministic
        self.discrete = isinstance(action_space, spaces.Discrete)

    def reset(self, rng: np.random.Generator, env: TwoPlayerGame) -> None:
        self.rng = rng

    def act(self, observation: np.ndarray) -> Any:
        if self.discrete:
            return int(policy_actions(self.model, observation[None], self.rng,
                                      self.deterministic)[0])
        import torch

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(self.rng.integers(2**63 - 1)))
            action, _ = self.model.predict(observation, deterministic=self.deterministic)
        return action

    def observe(self, action: Any, reward: float) -> None:
        pass


class PrincipalPolicy:
    """Anything with ``act(obs, state) -> (action, state)``, the Principal seam."""

    def __init__(self, principal: Any):
        self.principal = principal

    def reset(self, rng: np.random.Generator, env: TwoPlayerGame) -> None:
        self.state: Any = None

    def act(self, observation: np.ndarray) -> Any:
        action, self.state = self.principal.act(observation, self.state)
        return action

    def observe(self, action: Any, reward: float) -> None:
        pass


def _episode_learner(env: TwoPlayerParallelEnv) -> Learner:
    kind, params = env.episode_learner()
    return make_learner(kind, **params)


def _bandit_feedback(learner: Learner) -> Learner:
    if learner.feedback != "bandit":
        raise ValueError(f"the fixed side must be a bandit-feedback learner (the game reports "
                         f"only the reward of the action taken), got {type(learner).__name__} "
                         f"with feedback={learner.feedback!r}")
    return learner


def fixed_policy(policy: Any, action_space: spaces.Space[Any],
                 observation_space: spaces.Space[Any], deterministic: bool = False,
                 allow_none: bool = False) -> FixedPolicy:
    """Wrap what the user passed as the fixed side (see the module's table)."""
    if policy is None and allow_none:
        return LearnerPolicy(_episode_learner, action_space)
    if isinstance(policy, str | Learner):
        learner = _bandit_feedback(make_learner(policy) if isinstance(policy, str) else policy)
        return LearnerPolicy(lambda env: learner, action_space)
    if hasattr(policy, "predict"):
        return ModelPolicy(policy, deterministic, action_space, observation_space)
    if hasattr(policy, "act"):
        return PrincipalPolicy(policy)
    if callable(policy):
        return CallablePolicy(policy)
    raise ValueError(f"the fixed side must be a callable (obs, rng) -> action, a learner name "
                     f"or Learner, an SB3 model, or an object with act(obs, state)"
                     f"{' or None' if allow_none else ''}, got {policy!r}")


class SinglePlayerEnv(gym.Env[np.ndarray, Any]):
    """One player of a two-player ``ParallelEnv`` as a Gymnasium env; see the module doc."""

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, env: TwoPlayerParallelEnv, player: str, other: FixedPolicy):
        _check_env(env)
        self.env, self.player, self.other = env, player, other
        self.other_player = AGENT if player == PRINCIPAL else PRINCIPAL
        self.observation_space = env.observation_space(player)
        self.action_space = env.action_space(player)
        self._other_obs: np.ndarray | None = None

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        # The game and the fixed side draw from separate streams, both from this one seed.
        game_seed = None if seed is None else int(self.np_random.integers(2**63 - 1))
        observations, _ = self.env.reset(seed=game_seed, options=options)
        self._other_obs = observations[self.other_player]
        self.other.reset(self.np_random, self.env)
        return observations[self.player], dict(self.env.game_info)

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self._other_obs is None or not self.env.agents:
            raise RuntimeError("step() called before reset() or after the episode ended")
        check_action(self.action_space, action)
        other_action = self.other.act(self._other_obs)
        observations, rewards, terminations, truncations, _ = self.env.step(
            {self.player: action, self.other_player: other_action})
        self.other.observe(other_action, rewards[self.other_player])
        self._other_obs = observations[self.other_player]
        return (observations[self.player], rewards[self.player], terminations[self.player],
                truncations[self.player], dict(self.env.game_info))


class TurnSinglePlayerEnv(gym.Env[np.ndarray, Any]):
    """One player of the one-round game's AEC form (``stackelberg_aec``) as a Gymnasium env.

    An episode is the one round, so every step terminates. The agent's view starts after the
    fixed principal has committed (its first observation is the commitment and the posted
    bonus); the principal's view plays the fixed agent's answer inside its step.
    """

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, env: StackelbergAECEnv, player: str, other: FixedPolicy):
        self.env, self.player, self.other = env, player, other
        self.other_player = AGENT if player == PRINCIPAL else PRINCIPAL
        self.observation_space = env.observation_space(player)
        self.action_space = env.action_space(player)
        self._playing = False

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        # The game and the fixed side draw from separate streams, both from this one seed.
        game_seed = None if seed is None else int(self.np_random.integers(2**63 - 1))
        self.env.reset(seed=game_seed, options=options)
        self.other.reset(self.np_random, self.env)
        if self.player == AGENT:
            self._other_action = self.other.act(self.env.observe(PRINCIPAL))
            self.env.step(self._other_action)
        self._playing = True
        return self.env.observe(self.player).copy(), dict(self.env.game_info)

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if not self._playing:
            raise RuntimeError("step() called before reset() or after the episode ended")
        check_action(self.action_space, action)
        self.env.step(action)
        if self.player == PRINCIPAL:
            self._other_action = self.other.act(self.env.observe(AGENT))
            self.env.step(self._other_action)
        self.other.observe(self._other_action, self.env.rewards[self.other_player])
        self._playing = False
        return (self.env.observe(self.player).copy(), self.env.rewards[self.player], True,
                False, dict(self.env.game_info))


def as_agent_env(env: Any, principal_policy: Any, *,
                 deterministic: bool = False) -> SinglePlayerEnv | TurnSinglePlayerEnv:
    """The ``"agent"`` player of ``env`` as a Gymnasium env, against a fixed principal.

    ``deterministic``: an SB3 principal acts on its most likely action instead of sampling.
    """
    game = _two_player_game(env)
    policy = fixed_policy(principal_policy, game.action_space(PRINCIPAL),
                          game.observation_space(PRINCIPAL), deterministic)
    if isinstance(game, StackelbergAECEnv):
        return TurnSinglePlayerEnv(game, AGENT, policy)
    return SinglePlayerEnv(game, AGENT, policy)


def as_principal_env(env: Any, agent_policy: Any = None, *,
                     deterministic: bool = False) -> SinglePlayerEnv | TurnSinglePlayerEnv:
    """The ``"principal"`` player of ``env`` as a Gymnasium env, against a fixed agent.

    ``agent_policy=None`` plays the learner of each episode's ``AgentSpec`` (built-in or
    ``"sb3:..."``), as the Gymnasium form of the game does (parallel forms only).
    """
    game = _two_player_game(env)
    if isinstance(game, StackelbergAECEnv):
        if agent_policy is None:
            raise ValueError("agent_policy is required with the one-round game's AEC form: "
                             "its built-in agent is the exact follower, which "
                             "Mermaide/Stackelberg-v0 already plays; give a callable, a "
                             "learner or a model")
        return TurnSinglePlayerEnv(game, PRINCIPAL, fixed_policy(
            agent_policy, game.action_space(AGENT), game.observation_space(AGENT),
            deterministic))
    return SinglePlayerEnv(game, PRINCIPAL, fixed_policy(
        agent_policy, game.action_space(AGENT), game.observation_space(AGENT), deterministic,
        allow_none=True))


def _two_player_game(env: Any) -> TwoPlayerGame:
    """The game under ``env``: a parallel form, or the AEC form (under PettingZoo's
    wrappers, which the view replaces: it plays the turns in order itself)."""
    if isinstance(env, TwoPlayerParallelEnv):
        return env
    base = getattr(env, "unwrapped", None)
    if isinstance(base, StackelbergAECEnv):
        return base
    raise ValueError(f"env must be a two-player game of mermaide (e.g. bandit_parallel(...) "
                     f"or stackelberg_aec(...)), got {env!r}")


def _check_env(env: Any) -> None:
    if not isinstance(env, TwoPlayerParallelEnv):
        raise ValueError(f"env must be a two-player parallel game of mermaide (e.g. "
                         f"bandit_parallel(...)), got {env!r}")
