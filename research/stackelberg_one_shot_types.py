"""One-shot MAML with a categorical commitment policy on a Bayesian security game.

Companion to ``stackelberg_one_shot_ceiling.py`` (see docs/stackelberg-one-shot.md). There the
population of random games leaves too little to learn from one response; here the population
is built so that one response *does* identify the agent, and the question is whether a MAML
inner loop (one policy-gradient step on one one-step episode) can turn that response into the
right commitment.

The game: a defender (the principal) covers one of 3 targets, an attacker (the follower)
attacks one; payoffs are expected over the defender's coverage x, so x @ A[:, j] is the
defender's payoff when target j is attacked (the one-round game's convention). The defender
earns ``DEFENDER_COVERED`` on a covered attack and ``DEFENDER_UNCOVERED[j]`` otherwise; the
attacker earns ``ATTACKER_COVERED`` on a covered attack and its valuation v[j] otherwise. An
attacker *type* is a valuation vector; a game draws a type uniformly and adds Gaussian noise
of std ``--noise`` to its valuations (held-out games are fresh draws). The defender knows A
(fixed) and never sees B: this is the Bayesian Stackelberg security game.

The principal: a categorical policy over the commitments of the 1/``--grid`` simplex grid,
with tabular logits theta (its input never changes, so an MLP adds nothing but curvature).
One adaptation episode: it samples a probe k ~ softmax(theta), earns r = grid[k] @ A[:, j] and
takes one REINFORCE step theta' = theta + alpha (r - b)(e_k - softmax(theta)), with the step
size alpha and the baseline b meta-learned too (a plain K = 1 update has no baseline at all).
Reported, as fractions of each game's equilibrium value on the held-out games:

* uniform commitment, and the zero-shot ceiling (the best single grid commitment);
* the one-shot ceiling: the best probe, then the best commitment for the response it gets;
* "exact MAML": theta, alpha, b trained by gradient ascent on the *exact* expected one-shot
  score (every probe, every game, no sampling): the best this inner loop can be trained to;
* "sampled MAML": the same update trained as ``maml`` trains (sampled support probe, 8
  sampled query episodes per task, a REINFORCE outer loss through the inner step).

    python research/stackelberg_one_shot_types.py --types 3
    python research/stackelberg_one_shot_types.py --types 2
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from mermaide.envs.commitment_grid import simplex_grid
from mermaide.envs.stackelberg import solve

DEFENDER_COVERED = 0.9
DEFENDER_UNCOVERED = np.array([0.1, 0.3, 0.2])
ATTACKER_COVERED = 0.1
# Each type values one target most; the first two (or all three) are used.
TYPES = np.array([[0.9, 0.5, 0.4], [0.5, 0.4, 0.9], [0.45, 0.9, 0.5]])


def security_game(valuations: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    covered = np.eye(3, dtype=bool)
    A = np.where(covered, DEFENDER_COVERED, DEFENDER_UNCOVERED[None, :])
    B = np.where(covered, ATTACKER_COVERED, valuations[None, :])
    return A, B


def tables(games: int, types: np.ndarray, noise: float, grid: np.ndarray,
           rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """Per game and grid commitment: the defender's reward, the same as a fraction of the
    game's equilibrium value, and the attacker's response."""
    rewards, fractions, responses = [], [], []
    for _ in range(games):
        kind = int(rng.integers(len(types)))
        A, B = security_game(types[kind] + noise * rng.standard_normal(3))
        response = np.argmax(grid @ B, axis=1)
        reward = (grid @ A)[np.arange(len(grid)), response]
        rewards.append(reward)
        fractions.append(reward / solve(A, B).value)
        responses.append(response)
    return (torch.tensor(np.array(rewards)), torch.tensor(np.array(fractions)),
            np.array(responses))


def one_shot_ceiling(train: tuple[torch.Tensor, torch.Tensor, np.ndarray],
                     test: tuple[torch.Tensor, torch.Tensor, np.ndarray]) -> float:
    """Best probe and response -> commitment map, chosen on the training games."""
    _, fractions, responses = train
    _, test_fractions, test_responses = test
    best, best_score = None, -1.0
    for probe in range(responses.shape[1]):
        plan = {}
        score = 0.0
        for j in np.unique(responses[:, probe]):
            rows = responses[:, probe] == j
            column = fractions[rows].mean(0)
            plan[int(j)] = int(column.argmax())
            score += float(column.max()) * rows.sum()
        if score > best_score:
            best, best_score = (probe, plan), score
    assert best is not None
    probe, plan = best
    zero = int(fractions.mean(0).argmax())
    chosen = [plan.get(int(j), zero) for j in test_responses[:, probe]]
    return float(test_fractions[np.arange(len(chosen)), chosen].mean())


def one_shot_score(theta: torch.Tensor, log_alpha: torch.Tensor, baseline: torch.Tensor,
                   rewards: torch.Tensor, fractions: torch.Tensor) -> torch.Tensor:
    """Exact expected score after one REINFORCE step on one sampled probe."""
    pi = torch.softmax(theta, 0)
    direction = torch.eye(len(theta), dtype=theta.dtype) - pi[None, :]    # e_k - pi, (k, P)
    adapted = (theta[None, None, :] + log_alpha.exp() * (rewards - baseline)[:, :, None]
               * direction[None])                                         # (games, k, P)
    after = (torch.softmax(adapted, -1) * fractions[:, None, :]).sum(-1)  # (games, k)
    return (after * pi[None, :]).sum(1).mean()


def train_exact(train: tuple[torch.Tensor, torch.Tensor, np.ndarray], steps: int
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    rewards, fractions, _ = train
    theta = torch.zeros(rewards.shape[1], dtype=rewards.dtype, requires_grad=True)
    log_alpha = torch.tensor(np.log(10.0), dtype=rewards.dtype, requires_grad=True)
    baseline = torch.tensor(0.0, dtype=rewards.dtype, requires_grad=True)
    optimizer = torch.optim.Adam([theta, log_alpha, baseline], lr=0.05)
    for _ in range(steps):
        loss = -one_shot_score(theta, log_alpha, baseline, rewards, fractions)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return theta.detach(), log_alpha.detach(), baseline.detach()


def train_sampled(train: tuple[torch.Tensor, torch.Tensor, np.ndarray], steps: int,
                  meta_batch: int, queries: int, seed: int, support_credit: bool = False
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``support_credit`` adds E-MAML's term (as ``MAMLConfig.support_credit`` does): the
    probe's log-probability under theta, reinforced by the adapted policy's query return."""
    rewards, _, _ = train
    generator = torch.Generator().manual_seed(seed)
    theta = torch.zeros(rewards.shape[1], dtype=rewards.dtype, requires_grad=True)
    log_alpha = torch.tensor(np.log(10.0), dtype=rewards.dtype, requires_grad=True)
    baseline = torch.tensor(0.0, dtype=rewards.dtype, requires_grad=True)
    optimizer = torch.optim.Adam([theta, log_alpha, baseline], lr=0.005)
    for _ in range(steps):
        games = torch.randint(0, len(rewards), (meta_batch,), generator=generator)
        pi = torch.softmax(theta, 0)
        probes = torch.multinomial(pi.detach(), meta_batch, replacement=True,
                                   generator=generator)
        reward = rewards[games, probes]
        direction = torch.nn.functional.one_hot(probes, len(theta)).to(theta.dtype) - pi
        adapted = theta + log_alpha.exp() * (reward - baseline)[:, None] * direction
        log_p = torch.log_softmax(adapted, -1)
        picks = torch.multinomial(log_p.exp().detach(), queries, replacement=True,
                                  generator=generator)
        query_rewards = rewards[games[:, None], picks]
        advantage = query_rewards - query_rewards.mean(1, keepdim=True)
        loss = -(advantage * log_p.gather(1, picks)).mean()
        if support_credit:
            earned = query_rewards.mean(1)
            probe_log_p = torch.log_softmax(theta, 0)[probes]
            loss = loss - ((earned - earned.mean()).detach() * probe_log_p).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return theta.detach(), log_alpha.detach(), baseline.detach()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--types", type=int, default=3, choices=(2, 3))
    parser.add_argument("--noise", type=float, default=0.02)
    parser.add_argument("--grid", type=int, default=10)
    parser.add_argument("--games", type=int, default=1000)
    parser.add_argument("--test-games", type=int, default=300)
    parser.add_argument("--exact-steps", type=int, default=1500)
    parser.add_argument("--sampled-steps", type=int, default=15000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--support-credit", action="store_true",
                        help="train the sampled MAML with E-MAML's support term")
    parser.add_argument("--skip-exact", action="store_true", help="leave out exact MAML")
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(1)  # small tensors: threads only add contention
    types, grid = TYPES[: args.types], simplex_grid(3, args.grid)
    train = tables(args.games, types, args.noise, grid, np.random.default_rng(args.seed))
    test = tables(args.test_games, types, args.noise, grid,
                  np.random.default_rng(args.seed + 1))
    _, train_fractions, _ = train
    _, test_fractions, _ = test
    uniform = int(np.argmin(((grid - 1.0 / 3.0) ** 2).sum(1)))
    zero_shot = int(train_fractions.mean(0).argmax())
    rows = [("uniform commitment", float(test_fractions[:, uniform].mean())),
            ("zero-shot ceiling (best single commitment)",
             float(test_fractions[:, zero_shot].mean())),
            ("one-shot ceiling (best probe, then best commitment)",
             one_shot_ceiling(train, test))]
    variants = [] if args.skip_exact else [("exact MAML (one step, exact meta-gradient)",
                                            lambda: train_exact(train, args.exact_steps))]
    sampled = "with support credit" if args.support_credit else "as maml trains by default"
    variants.append((f"sampled MAML (one step, {sampled})",
                     lambda: train_sampled(train, args.sampled_steps, 64, 8, args.seed,
                                           args.support_credit)))
    for label, train_variant in variants:
        trained = train_variant()
        theta, log_alpha, baseline = trained
        with torch.no_grad():
            after = one_shot_score(theta, log_alpha, baseline, test[0], test_fractions)
            before = (torch.softmax(theta, 0)[None, :] * test_fractions).sum(1).mean()
        rows.append((f"{label}: 0-shot", float(before)))
        rows.append((f"{label}: 1-shot (alpha {float(log_alpha.exp()):.0f}, "
                     f"b {float(baseline):.2f})", float(after)))
    print(f"{args.types} attacker types, noise {args.noise}, grid 1/{args.grid} "
          f"({len(grid)} commitments), {args.test_games} held-out games")
    print("| | mean fraction of the equilibrium value |\n|---|---|")
    for label, value in rows:
        print(f"| {label} | {value:.3f} |")


if __name__ == "__main__":
    main()
