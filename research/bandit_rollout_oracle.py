"""Is there anything to learn beyond front-loading? A simulator-access upper-bound probe.

On ``Mermaide/Bandit-v0`` every learned principal converges to the tuned front-loaded
schedule (docs/learning.md). That is a bug only if a better policy exists. This script asks
an oracle that no principal can be: at every step it copies the whole game, the agent's
internal state included, and compares by Monte Carlo

    Q(a) = E[ r(a) + return of the base policy from the next step ],  a in {none, bonus on target}

with the base policy "front-load what budget is left" (the tuned schedule's own rule), using
common random numbers for the two actions. Playing argmax Q is one step of policy improvement
on front-loading, so (up to Monte Carlo error) it scores at least front-loading; how much more
it scores bounds from below the headroom a principal that knew the agent exactly would have.
A principal that only sees the agent's actions has less.

    python research/bandit_rollout_oracle.py --agents 100 --rollouts 32
"""

from __future__ import annotations

import argparse
import copy
import time

import gymnasium as gym
import numpy as np

import mermaide.envs  # noqa: F401  (registers the games)
from mermaide.agents import population


def front_load_return(env: gym.Env, target: int, first_action: int) -> float:
    """Play ``first_action`` then bonus the target while budget is left; the total reward."""
    total, done, action = 0.0, False, first_action
    while not done:
        _, reward, done, _, info = env.step(action)
        total += reward
        action = target + 1 if info["action_mask"][target + 1] else 0
    return total


def oracle_episode(env: gym.Env, target: int, rollouts: int, rng: np.random.Generator
                   ) -> tuple[float, int, int]:
    """One episode of the one-step-improved front-loading policy: (return, bonuses used,
    bonuses the agent collected)."""
    total, done, used, collected = 0.0, False, 0, 0
    mask = env.unwrapped.action_masks()
    while not done:
        action = 0
        if mask[target + 1]:
            seeds = rng.integers(2**63, size=rollouts)
            q = np.zeros(2)
            for i, candidate in enumerate((0, target + 1)):
                for seed in seeds:
                    twin = copy.deepcopy(env)
                    twin.unwrapped.np_random = np.random.default_rng(int(seed))
                    q[i] += front_load_return(twin, target, candidate)
            action = target + 1 if q[1] > q[0] else 0
        _, reward, done, _, info = env.step(action)
        total += reward
        used += int(info["intervened"])
        collected += int(info["intervened"] and info["target_hit"])
        mask = info["action_mask"]
    return total, used, collected


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agents", type=int, default=100)
    parser.add_argument("--rollouts", type=int, default=32)
    parser.add_argument("--horizon", type=int, default=50)
    parser.add_argument("--budget", type=int, default=10)
    parser.add_argument("--cost", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=321)
    args = parser.parse_args()
    agents = population("train", n_arms=5).sample_many(args.agents,
                                                       np.random.default_rng(args.seed))
    env = gym.make("Mermaide/Bandit-v0", n_arms=5, horizon=args.horizon,
                   intervention_budget=args.budget, intervention_cost=args.cost)
    rng = np.random.default_rng(args.seed + 1)
    fronts, oracles, used, collected = [], [], [], []
    start = time.perf_counter()
    for i, spec in enumerate(agents):
        # The same episode seed for both policies: the same agent and the same first draws.
        env.reset(seed=10_000 + i, options={"agent": spec})
        fronts.append(front_load_return(copy.deepcopy(env), spec.target, spec.target + 1))
        ret, n, hit = oracle_episode(env, spec.target, args.rollouts, rng)
        oracles.append(ret)
        used.append(n)
        collected.append(hit)
    fronts_a, oracles_a = np.array(fronts), np.array(oracles)
    diff = oracles_a - fronts_a
    half = 1.96 * diff.std(ddof=1) / np.sqrt(len(diff))
    print(f"{args.agents} agents, {args.rollouts} rollouts, {time.perf_counter() - start:.0f} s")
    print(f"front-loaded {fronts_a.mean():.2f}  oracle {oracles_a.mean():.2f}  "
          f"paired difference {diff.mean():+.2f} +- {half:.2f}  "
          f"oracle bonuses used {np.mean(used):.2f} of {args.budget}, "
          f"{np.mean(collected):.2f} of them on the target")
    kinds = np.array([spec.learner for spec in agents])
    for kind in np.unique(kinds):
        pick = kinds == kind
        print(f"  {kind}: front-loaded {fronts_a[pick].mean():.2f}  oracle "
              f"{oracles_a[pick].mean():.2f}  ({pick.sum()} agents)")


if __name__ == "__main__":
    main()
