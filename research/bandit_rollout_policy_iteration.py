"""Can a learned principal beat front-loading on ``Mermaide/Bandit-v0`` when it is trained by
a learner that values the greedy policy it is scored as? Rollout policy iteration.

docs/learning.md measures why the policy-gradient principals stall on the front-loaded
schedule: they value their stochastic policy, under which saving a bonus does not pay. This
script trains the same GRU policy differently (approximate policy iteration as classification,
Lagoudakis & Parr 2003): start from a trained ``reinforce`` principal; each iteration plays
greedy episodes on training agents and, at every step where a bonus is allowed, estimates
Q(a) for a in {no bonus, bonus on the target} by paired rollouts from deep copies of the game
and the principal, the principal's greedy play after the step (the simulator's copies are used
in training only: the policy itself reads only its observations); the GRU is then trained by
cross-entropy to pick the better action at those steps (weighted by |Q difference|, so that
clear decisions weigh most), and the loop repeats. Scored like the other policies of
``bandit_beyond_front_loading.py`` (setting A, 400 held-out agents, paired seeds).

    python research/bandit_rollout_policy_iteration.py --iterations 4 --agents 48 --rollouts 16
"""

from __future__ import annotations

import argparse
import copy
import time
from typing import Any

import bandit_beyond_front_loading as setting
import numpy as np
import torch

from mermaide.agents import population
from mermaide.principal import make
from mermaide.principal.toolkit import policy_outputs


def continuation(env: Any, principal: Any, state: Any, first: int) -> float:
    return setting.continuation(env, principal, state, first)


def labelled_episode(principal: Any, spec: Any, seed: int, rollouts: int,
                     rng: np.random.Generator) -> tuple[np.ndarray, list[tuple[int, int, float]]]:
    """One greedy episode on ``spec``: its observations (T, D) and, at each step with a bonus
    allowed, (step, better action, |Q difference|)."""
    env = setting.env_fn()
    obs, info = env.reset(seed=seed, options={"agent": spec})
    principal.begin_episode(info)
    state, done, t = None, False, 0
    observations, labels = [], []
    bonus = spec.target + 1
    while not done:
        observations.append(np.asarray(obs, dtype=np.float32))
        if info["action_mask"][bonus]:
            seeds = rng.integers(2**63, size=rollouts)
            q = {}
            for first in (0, bonus):
                q[first] = np.mean([
                    continuation(_reseeded(env, int(s)), copy.deepcopy(principal), state, first)
                    for s in seeds])
            better = bonus if q[bonus] >= q[0] else 0
            labels.append((t, better, abs(q[bonus] - q[0])))
        action, state = principal.act(obs, state)
        obs, _, done, _, info = env.step(action)
        principal.after_step(info)
        t += 1
    return np.stack(observations), labels


def _reseeded(env: Any, seed: int) -> Any:
    twin = copy.deepcopy(env)
    twin.unwrapped.np_random = np.random.default_rng(seed)
    return twin


def fit(principal: Any, data: list[tuple[np.ndarray, list[tuple[int, int, float]]]],
        epochs: int, lr: float) -> float:
    """Cross-entropy of the labelled steps' logits (the GRU reads each whole episode)."""
    net = principal.policy.net
    obs = torch.as_tensor(np.stack([o for o, _ in data]))            # (E, T, D)
    steps, targets, weights, rows = [], [], [], []
    for i, (_, labels) in enumerate(data):
        for t, action, weight in labels:
            rows.append(i)
            steps.append(t)
            targets.append(action)
            weights.append(weight)
    rows_t, steps_t = torch.tensor(rows), torch.tensor(steps)
    target_t = torch.tensor(targets)
    weight_t = torch.tensor(weights, dtype=torch.float32)
    weight_t = weight_t / weight_t.mean().clamp_min(1e-8)
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    loss = torch.tensor(0.0)
    for _ in range(epochs):
        out, _ = net(obs)
        logits = policy_outputs(net, out)[rows_t, steps_t]
        # Only "no bonus" and "bonus on the target" are labelled: the others stay as they are.
        loss = (torch.nn.functional.cross_entropy(logits, target_t, reduction="none")
                * weight_t).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return float(loss.detach())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pretrain-steps", type=int, default=4_000_000)
    parser.add_argument("--iterations", type=int, default=4)
    parser.add_argument("--agents", type=int, default=48, help="training agents per iteration")
    parser.add_argument("--rollouts", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    pop = population("train", n_arms=setting.N_ARMS)
    held_out = pop.sample_many(400, np.random.default_rng(321))
    kinds = np.array([spec.learner for spec in held_out])
    pairs = [(spec, 10_000 + i) for i, spec in enumerate(held_out)]
    env = setting.env_fn()
    base = np.array([setting.play_rule(setting.front_loaded, env, a, s) for a, s in pairs])
    principal = make("reinforce")
    start = time.perf_counter()
    principal.meta_train(setting.env_fn, pop, args.pretrain_steps, args.seed, progress=False)
    scores = np.array([setting.play_principal(principal, env, a, s) for a, s in pairs])
    setting.report(f"reinforce ({time.perf_counter() - start:.0f} s)", scores, base, kinds)
    rng = np.random.default_rng(args.seed + 1)
    data: list[tuple[np.ndarray, list[tuple[int, int, float]]]] = []
    for iteration in range(args.iterations):
        agents = pop.sample_many(args.agents, rng)
        # Aggregated over iterations (as DAgger does): later policies visit other states.
        data += [labelled_episode(principal, spec, int(rng.integers(2**31)), args.rollouts, rng)
                 for spec in agents]
        skips = np.mean([label[1] == 0 for _, labels in data for label in labels])
        loss = fit(principal, data, args.epochs, args.lr)
        scores = np.array([setting.play_principal(principal, env, a, s) for a, s in pairs])
        setting.report(f"iteration {iteration + 1} ({time.perf_counter() - start:.0f} s, "
                       f"{skips:.2f} skip, loss {loss:.3f})", scores, base, kinds)


if __name__ == "__main__":
    main()
