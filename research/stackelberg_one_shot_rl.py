"""0-shot and 1-shot scores of ``"reinforce"`` and ``"maml"`` on the one-round Stackelberg game,
as fractions of the equilibrium value on held-out ``game_population("train")`` games.

    python research/stackelberg_one_shot_rl.py --steps 12000 --adapt-lr 0.5 2.0

Both principals get the same training budget (env episodes), the same policy class and their
own 1-shot ``adapt``; the held-out games are fresh draws from a generator training never uses.
"""

from __future__ import annotations

import argparse
import copy
import time

import gymnasium as gym
import numpy as np
import torch

import mermaide  # noqa: F401  (registers the games)
from mermaide.envs.games import game_population
from mermaide.envs.stackelberg import solve
from mermaide.principal import FixedTask, evaluate, make

PRINCIPALS = {"reinforce": {"episodes_per_batch": 32},
              "maml": {"meta_batch": 8, "query_episodes": 4}}


def env_fn() -> gym.Env:
    return gym.make("Mermaide/Stackelberg-v0", action_type="logits")


def kick_ratio(principal: object, game: object, draws: int) -> float:
    """How systematic the 1-shot update is on one game: the norm of the mean change of the
    policy's strategy outputs over ``draws`` independent adaptation episodes, divided by the
    rms spread of that change (pure noise gives about 1 / sqrt(draws))."""
    env = FixedTask(env_fn(), game, "game")
    obs = torch.as_tensor(env.reset(seed=0)[0])[None, None]

    def strategy_outputs(p: object) -> np.ndarray:
        with torch.no_grad():
            return p.policy(obs, None)[0][0, 0, :3].numpy()  # type: ignore[attr-defined]

    base = strategy_outputs(principal)
    changes = []
    for draw in range(draws):
        twin = copy.deepcopy(principal)
        twin.rng = np.random.default_rng(draw)  # type: ignore[attr-defined]
        twin.adapt(env, 1)  # type: ignore[attr-defined]
        changes.append(strategy_outputs(twin) - base)
    d = np.array(changes)
    spread = np.sqrt((np.linalg.norm(d - d.mean(0), axis=1) ** 2).mean())
    return float(np.linalg.norm(d.mean(0)) / spread)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=12_000, help="training episodes")
    parser.add_argument("--adapt-lr", type=float, nargs="+", default=[0.5])
    parser.add_argument("--games", type=int, default=20, help="held-out games")
    parser.add_argument("--seed", type=int, default=0, help="training seed")
    parser.add_argument("--kick-draws", type=int, default=0,
                        help="also measure kick_ratio on 10 held-out games with this many "
                             "adaptation draws (0 = skip)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    population = game_population("train")
    held_out = population.sample_many(args.games, np.random.default_rng(777))
    values = np.array([solve(g.A, g.B).value for g in held_out])
    for name, extra in PRINCIPALS.items():
        for lr in args.adapt_lr:
            start = time.time()
            principal = make(name, policy="mlp", hidden_size=64, adapt_lr=lr, **extra)
            principal.meta_train(env_fn, population, args.steps, seed=args.seed)
            scores = [np.mean(evaluate(principal, env_fn(), episodes=2, seed=3, shots=shots,
                                       tasks=held_out).per_task_returns() / values)
                      for shots in (0, 1)]
            print(f"{name:9s} steps {args.steps} adapt_lr {lr}: 0-shot {scores[0]:.3f} "
                  f"1-shot {scores[1]:.3f} ({time.time() - start:.0f} s)", flush=True)
            if args.kick_draws:
                ratios = [kick_ratio(principal, g, args.kick_draws) for g in held_out[:10]]
                print(f"  1-shot kick: |mean change| / rms spread {np.mean(ratios):.3f} "
                      f"(pure noise ~ {1 / np.sqrt(args.kick_draws):.3f})", flush=True)


if __name__ == "__main__":
    main()
