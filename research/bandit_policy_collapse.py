"""Why the learned principals equal the tuned front-loaded schedule: their policy collapses
onto "bonus" everywhere before it tells the agent's states apart.

Game: ``bandit-ood``'s (10 arms, T = 100, budget 20, target arm 6, the ``train`` population of
optimistic UCB and epsilon-greedy agents) with ``intervention_cost`` 0.5 (``--cost``), where a
bonus that the agent does not take is plainly wasted. Scored on 300 held-out agents of the
training population, one episode each, the same episode seed per agent for every policy:

* ``front-loaded-tuned``: a bonus on the target from the first step for the best number of
  steps (searched on the same agents, so an upper bound for the schedule);
* ``skip-in-round-robin`` (hand-written, reads the agent's observed actions only): front-load,
  except while a UCB-looking agent (no repeated arm so far) is in its first round and has
  already tried the target, when it cannot take the target again this round;
* the registered ``reinforce`` principal (``--principal``, ``--config`` a JSON of config
  fields), trained in chunks of ``--chunk`` steps (one ``meta_train`` call each: it continues
  the same policy). After each chunk the script reports the
  policy's probability of paying no bonus at three kinds of state met by front-loading on the
  held-out agents: *skip* states (the rule skips: round robin, target already tried), *before*
  states (round robin, target not yet tried: the bonus may catch the target's one pull), and
  *other* early states (t < 10, an agent that has repeated an arm).

At the end, at the skip states of 20 UCB agents, Q(no bonus) - Q(bonus) under the principal's
own continuation, by 40 paired rollouts on deep copies of game and principal.

    python research/bandit_policy_collapse.py --steps 3000000 --chunk 128000
    python research/bandit_policy_collapse.py --principal model --config \
        '{"model_episodes": 4096, "world_model": {"hidden_size": 128, "lr": 0.01,
          "epochs": 60}}'
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
from typing import Any

import gymnasium as gym
import numpy as np
from bandit_beyond_front_loading import continuation, play_principal

import mermaide.envs  # noqa: F401  (registers the games)
from mermaide.agents import population
from mermaide.principal import make

N_ARMS, HORIZON, BUDGET, TARGET = 10, 100, 20, 6


def env_fn(cost: float) -> Any:
    return lambda: gym.make("Mermaide/Bandit-v0", n_arms=N_ARMS, horizon=HORIZON,
                            intervention_budget=BUDGET, intervention_cost=cost)


def round_robin(seen: list[int]) -> bool:
    """No arm repeated so far, inside the first round: what a UCB agent looks like."""
    return len(seen) < N_ARMS and len(set(seen)) == len(seen)


def play_rule(env: gym.Env, spec: Any, seed: int, rule: Any) -> float:
    env.reset(seed=seed, options={"agent": spec})
    seen: list[int] = []
    total, done, t = 0.0, False, 0
    while not done:
        _, reward, done, _, info = env.step(TARGET + 1 if rule(t, seen) else 0)
        total += reward
        seen.append(int(info["observed_action"]))
        t += 1
    return total


def skip_in_round_robin(t: int, seen: list[int]) -> bool:
    return not (round_robin(seen) and TARGET in seen)


def no_bonus_probabilities(principal: Any, env: gym.Env, agents: list[Any]
                           ) -> dict[str, float]:
    """P(no bonus) of the principal's policy (sampled play) at the states front-loading meets
    in the first round, by kind."""
    sampler = copy.deepcopy(principal)
    sampler.config = dataclasses.replace(sampler.config, greedy=False)
    found: dict[str, list[float]] = {"skip": [], "before": [], "other": []}
    for i, spec in enumerate(agents):
        obs, info = env.reset(seed=20_000 + i, options={"agent": spec})
        sampler.begin_episode(info)
        state, seen = None, []
        for t in range(N_ARMS):
            kind = ("skip" if round_robin(seen) and TARGET in seen else
                    "before" if round_robin(seen) and t > 0 else "other")
            draws = [sampler.act(obs, state)[0] == 0 for _ in range(20)]
            found[kind].append(float(np.mean(draws)))
            _, state = sampler.act(obs, state)
            obs, _, _, _, info = env.step(TARGET + 1)
            sampler.after_step(info)
            seen.append(int(info["observed_action"]))
    return {k: float(np.mean(v)) for k, v in found.items() if v}


def skip_advantage(principal: Any, env: gym.Env, agents: list[Any], rollouts: int
                   ) -> np.ndarray:
    """Q(no bonus) - Q(bonus) at the skip states of UCB agents, the principal's own play after
    (paired rollouts on deep copies, each pair with one random stream)."""
    gaps: list[float] = []
    for i, spec in enumerate(a for a in agents if a.learner == "ucb"):
        obs, info = env.reset(seed=30_000 + i, options={"agent": spec})
        principal.begin_episode(info)
        state, seen = None, []
        for _ in range(N_ARMS):
            if round_robin(seen) and TARGET in seen and info["action_mask"][TARGET + 1]:
                q = {}
                for first in (0, TARGET + 1):
                    q[first] = []
                    for seed in range(rollouts):
                        twin = copy.deepcopy(env)
                        twin.unwrapped.np_random = np.random.default_rng(seed)
                        q[first].append(continuation(twin, copy.deepcopy(principal),
                                                     copy.deepcopy(state), first))
                gaps.append(float(np.mean(q[0]) - np.mean(q[TARGET + 1])))
            action, state = principal.act(obs, state)
            obs, _, _, _, info = env.step(action)
            principal.after_step(info)
            seen.append(int(info["observed_action"]))
    return np.array(gaps)


def paired(name: str, scores: np.ndarray, base: np.ndarray) -> None:
    diff = scores - base
    half = 1.96 * diff.std(ddof=1) / np.sqrt(len(diff))
    print(f"{name:44s} {scores.mean():6.2f}   minus front-loaded-tuned {diff.mean():+.2f} "
          f"+- {half:.2f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cost", type=float, default=0.5)
    parser.add_argument("--principal", default="reinforce")
    parser.add_argument("--config", default="{}", help="JSON of the principal's config fields")
    parser.add_argument("--steps", type=int, default=3_000_000)
    parser.add_argument("--chunk", type=int, default=0,
                        help="train in chunks of this many steps (a fresh seed each), reporting "
                             "P(no bonus) after each; 0: one meta_train call")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--agents", type=int, default=300)
    parser.add_argument("--rollouts", type=int, default=40)
    args = parser.parse_args()
    make_env = env_fn(args.cost)
    env = make_env()
    pop = population("train", n_arms=N_ARMS, target=TARGET)
    agents = pop.sample_many(args.agents, np.random.default_rng(321))
    seeds = [10_000 + i for i in range(len(agents))]
    schedules = {m: np.array([play_rule(env, a, s, lambda t, seen, m=m: t < m)
                              for a, s in zip(agents, seeds, strict=True)])
                 for m in range(0, BUDGET + 1, 2)}
    best = max(schedules, key=lambda m: schedules[m].mean())
    base = schedules[best]
    print(f"front-loaded, return by bonuses m: "
          f"{ {m: round(float(v.mean()), 2) for m, v in schedules.items()} }")
    paired(f"front-loaded-tuned (m = {best})", base, base)
    paired("skip-in-round-robin", np.array([play_rule(env, a, s, skip_in_round_robin)
                                            for a, s in zip(agents, seeds, strict=True)]), base)
    principal = make(args.principal, **json.loads(args.config))
    probe = agents[:60]
    done, chunk = 0, args.chunk or args.steps
    while done < args.steps:
        # A later meta_train call continues the same policy and optimiser; its own seed keeps
        # it from replaying the first chunk's agents.
        principal.meta_train(make_env, pop, min(chunk, args.steps - done),
                             args.seed + done // chunk, progress=False)
        done += min(chunk, args.steps - done)
        p = no_bonus_probabilities(principal, env, probe)
        print(f"  {done:>10,} steps: P(no bonus) at skip states {p.get('skip', 0):.3f}, "
              f"before the target {p.get('before', 0):.3f}, other early states "
              f"{p.get('other', 0):.3f}", flush=True)
    scores = np.array([play_principal(principal, env, a, s)
                       for a, s in zip(agents, seeds, strict=True)])
    paired(f"{args.principal} {args.config}", scores, base)
    gaps = skip_advantage(principal, env, agents[:60], args.rollouts)
    if len(gaps):
        print(f"{len(gaps)} skip states: Q(no bonus) - Q(bonus), the principal's own play "
              f"after: {gaps.mean():+.2f} +- {1.96 * gaps.std(ddof=1) / np.sqrt(len(gaps)):.2f}")


if __name__ == "__main__":
    main()
