"""Can a principal that sees only the agent's actions beat the tuned front-loaded schedule on
``Mermaide/Bandit-v0``, and do the learned principals find such a policy?

Setting A of docs/learning.md (5 arms, T = 50, budget 10, cost 0.05, ``population("train")``:
optimistic UCB and epsilon-greedy agents, random targets), scored on 400 held-out agents, one
episode each, the same episode seed per agent for every policy (paired differences):

* ``front-loaded``: bonus on the target from the first step until the budget is spent;
* ``round-robin-aware`` (hand-written, observes actions only): if the agent's first actions
  are all distinct (UCB tries every arm once, in a random order), bonus the target only until
  the agent has tried it, then pause until the round is over, bonus at the first step after
  it (the boosted target is now the best-looking arm) and from then on whenever the agent's
  last action was the target; otherwise (no round-robin: not a UCB agent) front-load;
* ``skip-in-round-robin`` (hand-written, observes actions only): front-loading, except that
  while a UCB-looking agent (no repeat so far) is in its first round and has already tried
  the target, no bonus is paid (it cannot take the target again in this round);
* learned ``reinforce`` principals with the configurations given on the command line.

    python research/bandit_beyond_front_loading.py --steps 4000000 --configs plain --diagnose 80
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import time
from typing import Any

import gymnasium as gym
import numpy as np

import mermaide.envs  # noqa: F401  (registers the games)
from mermaide.agents import population
from mermaide.principal import make

N_ARMS, HORIZON, BUDGET, COST = 5, 50, 10, 0.05
CONFIGS: dict[str, dict[str, Any]] = {
    "plain": {},
    "entropy": {"entropy_coef": 0.05},
    "ppo": {"critic": True, "ppo_epochs": 4, "minibatches": 4, "lr": 3e-3},
    "mlp-history": {"policy": "mlp", "history": 6},
    "slow": {"lr": 3e-3},
    "lr-1e-3": {"lr": 1e-3},
    "lr-3e-4": {"lr": 3e-4},
    "big-batch": {"episodes_per_batch": 1024},
    "ppo-entropy": {"critic": True, "ppo_epochs": 4, "minibatches": 4, "lr": 3e-3,
                    "entropy_coef": 0.03},
}


def env_fn() -> gym.Env:
    return gym.make("Mermaide/Bandit-v0", n_arms=N_ARMS, horizon=HORIZON,
                    intervention_budget=BUDGET, intervention_cost=COST)


class ObservedCounts(gym.ObservationWrapper):
    """Appends how often the principal has seen the agent take each arm so far, divided by the
    horizon (K inputs): the statistics ``skip-in-round-robin`` reads, handed to the policy."""

    def __init__(self, env: gym.Env):
        super().__init__(env)
        box = env.observation_space
        assert isinstance(box, gym.spaces.Box)
        self.observation_space = gym.spaces.Box(
            np.concatenate([box.low, np.zeros(N_ARMS, np.float32)]),
            np.concatenate([box.high, np.ones(N_ARMS, np.float32)]), dtype=np.float32)
        self.counts = np.zeros(N_ARMS, np.float32)

    def reset(self, **kwargs: Any) -> tuple[np.ndarray, dict[str, Any]]:
        self.counts = np.zeros(N_ARMS, np.float32)
        return super().reset(**kwargs)

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.counts[info["observed_action"]] += 1.0 / HORIZON
        return self.observation(obs), float(reward), terminated, truncated, info

    def observation(self, observation: np.ndarray) -> np.ndarray:
        return np.concatenate([observation, self.counts]).astype(np.float32)


def counts_env_fn() -> gym.Env:
    return ObservedCounts(env_fn())


def front_loaded(t: int, seen: list[int], target: int) -> bool:
    return True


def round_robin_aware(t: int, seen: list[int], target: int) -> bool:
    if len(set(seen[:N_ARMS])) < min(len(seen), N_ARMS):
        return True  # a repeat inside the first round: not a round-robin (UCB) agent
    if t < N_ARMS:
        return target not in seen
    return t == N_ARMS or seen[-1] == target


def skip_in_round_robin(t: int, seen: list[int], target: int) -> bool:
    if len(set(seen[:N_ARMS])) < min(len(seen), N_ARMS):
        return True
    return not (t < N_ARMS and target in seen)


RULES = {"front-loaded": front_loaded, "round-robin-aware": round_robin_aware,
         "skip-in-round-robin": skip_in_round_robin}


def play_rule(rule: Any, env: gym.Env, spec: Any, seed: int) -> float:
    env.reset(seed=seed, options={"agent": spec})
    seen: list[int] = []
    total, done, t = 0.0, False, 0
    while not done:
        action = spec.target + 1 if rule(t, seen, spec.target) else 0
        _, reward, done, _, info = env.step(action)
        total += reward
        seen.append(info["observed_action"])
        t += 1
    return total


def play_principal(principal: Any, env: gym.Env, spec: Any, seed: int) -> float:
    obs, info = env.reset(seed=seed, options={"agent": spec})
    principal.begin_episode(info)
    state, total, done = None, 0.0, False
    while not done:
        action, state = principal.act(obs, state)
        obs, reward, done, _, info = env.step(action)
        principal.after_step(info)
        total += reward
    return total


def continuation(env: gym.Env, principal: Any, state: Any, first: int) -> float:
    """Play ``first`` now, then the principal's own policy to the end; the total reward."""
    total, action = 0.0, first
    while True:
        obs, reward, done, _, info = env.step(action)
        principal.after_step(info)
        total += reward
        if done:
            return total
        action, state = principal.act(obs, state)


def plateau_diagnosis(principal: Any, agents: list[Any], samples: int, rollouts: int
                      ) -> None:
    """At the states where ``skip-in-round-robin`` differs from front-loading (a UCB agent in
    its first round that has already tried the target, budget left): the trained policy's
    probability of paying nothing, and Q(nothing) - Q(bonus) with the policy's own play from
    the next step, greedy (what is scored) and sampled (what the policy gradient estimates),
    by paired rollouts on deep copies of the game and the principal."""
    env = env_fn()
    explorer = copy.deepcopy(principal)
    explorer.config = dataclasses.replace(explorer.config, greedy=False)
    p_none: list[float] = []
    gaps: list[float] = []
    sampled_gaps: list[float] = []
    for i, spec in enumerate(a for a in agents if a.learner == "ucb"):
        obs, info = env.reset(seed=10_000 + i, options={"agent": spec})
        principal.begin_episode(info)
        state, seen, done, t = None, [], False, 0
        while not done:
            if (t < N_ARMS and spec.target in seen and len(set(seen)) == len(seen)
                    and info["action_mask"][spec.target + 1]):
                explorer.allowed = info["action_mask"]
                p_none.append(np.mean([explorer.act(obs, state)[0] == 0
                                       for _ in range(samples)]))
                for player, found in ((principal, gaps), (explorer, sampled_gaps)):
                    q: dict[int, list[float]] = {}
                    for first in (0, spec.target + 1):
                        q[first] = []
                        for seed in range(rollouts):
                            twin = copy.deepcopy(env)
                            twin.unwrapped.np_random = np.random.default_rng(seed)
                            q[first].append(continuation(twin, copy.deepcopy(player), state,
                                                         first))
                    found.append(np.mean(q[0]) - np.mean(q[spec.target + 1]))
            action, state = principal.act(obs, state)
            obs, _, done, _, info = env.step(action)
            principal.after_step(info)
            seen.append(info["observed_action"])
            t += 1
    gap, sampled = np.array(gaps), np.array(sampled_gaps)
    print(f"  {len(gap)} round-robin states: P(no bonus) {np.mean(p_none):.4f} (max "
          f"{np.max(p_none):.4f}); Q(no bonus) - Q(bonus), greedy play after "
          f"{gap.mean():+.2f} +- {1.96 * gap.std(ddof=1) / np.sqrt(len(gap)):.2f}, sampled "
          f"play after {sampled.mean():+.2f} +- "
          f"{1.96 * sampled.std(ddof=1) / np.sqrt(len(sampled)):.2f}", flush=True)


def report(name: str, scores: np.ndarray, base: np.ndarray, kinds: np.ndarray) -> None:
    diff = scores - base
    half = 1.96 * diff.std(ddof=1) / np.sqrt(len(diff))
    print(f"{name:28s} {scores.mean():6.2f}  vs front-loaded {diff.mean():+.2f} +- {half:.2f}"
          f"   ucb {scores[kinds == 'ucb'].mean():.2f}  epsilon_greedy "
          f"{scores[kinds != 'ucb'].mean():.2f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agents", type=int, default=400)
    parser.add_argument("--steps", type=int, default=4_000_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--configs", nargs="*", default=[], choices=sorted(CONFIGS))
    parser.add_argument("--population", default="train")
    parser.add_argument("--counts", action="store_true",
                        help="the learned principals also read the observed action counts "
                             "(ObservedCounts; trained through SyncVectorEnv, slower)")
    parser.add_argument("--diagnose", type=int, default=0, metavar="AGENTS",
                        help="after each learned run, the plateau diagnosis on the UCB agents "
                             "among the first AGENTS held-out agents")
    args = parser.parse_args()
    if args.counts and args.diagnose:
        parser.error("--diagnose plays the game without the counts: leave out --counts")
    pop = population(args.population, n_arms=N_ARMS)
    agents = pop.sample_many(args.agents, np.random.default_rng(321))
    kinds = np.array([spec.learner for spec in agents])
    env = env_fn()
    seeds = [10_000 + i for i in range(len(agents))]
    pairs = list(zip(agents, seeds, strict=True))
    base = np.array([play_rule(front_loaded, env, a, s) for a, s in pairs])
    for name, rule in RULES.items():
        report(name, np.array([play_rule(rule, env, a, s) for a, s in pairs]), base, kinds)
    for name in args.configs:
        for seed in args.seeds:
            principal = make("reinforce", **CONFIGS[name])
            start = time.perf_counter()
            game_fn = counts_env_fn if args.counts else env_fn
            principal.meta_train(game_fn, pop, args.steps, seed, progress=False)
            wall = time.perf_counter() - start
            scored = game_fn()
            scores = np.array([play_principal(principal, scored, a, s) for a, s in pairs])
            report(f"reinforce {name} seed {seed} ({wall:.0f} s)", scores, base, kinds)
            if args.diagnose:
                plateau_diagnosis(principal, agents[:args.diagnose], samples=300, rollouts=40)


if __name__ == "__main__":
    main()
