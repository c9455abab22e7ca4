"""Principals: the learners that steer agents (see ``mermaide.principal.base``).

Registration lives here, in one place; entry points are imported on first use so that
``import mermaide.principal`` does not load torch or stable-baselines3.
"""

from mermaide.principal.base import (
    Principal,
    TaskDistribution,
    check_principal,
    make,
    principal_names,
    register_prefix,
    register_principal,
)
from mermaide.principal.evaluation import (
    EpisodeStats,
    FixedTask,
    PopulationTasks,
    after_step,
    begin_episode,
    evaluate,
    run_episode,
    task_key,
)

_PRINCIPALS = {
    "none": "mermaide.principal.heuristics:NoIntervention",
    "always": "mermaide.principal.heuristics:Always",
    "periodic": "mermaide.principal.heuristics:Periodic",
    "front-loaded": "mermaide.principal.heuristics:FrontLoaded",
    "front-loaded-tuned": "mermaide.principal.heuristics:FrontLoadedTuned",
    "periodic-tuned": "mermaide.principal.heuristics:PeriodicTuned",
    "random": "mermaide.principal.heuristics:RandomInterventions",
    "reinforce": "mermaide.principal.reinforce:Reinforce",
    "ppo": "mermaide.principal.sb3:ppo",
    "model": "mermaide.principal.model:AgentModel",
    "maml": "mermaide.principal.maml:MAML",
    "mermaide": "mermaide.principal.mermaide:Mermaide",
    "stackelberg-lp": "mermaide.principal.stackelberg_lp:StackelbergLP",
    "stackelberg-pomdp": "mermaide.principal.stackelberg_pomdp:StackelbergPOMDP",
    "pbrl": "mermaide.principal.pbrl:PBRL",
    "ipa": "mermaide.principal.ipa:IPA",
    "dogan-eps": "mermaide.principal.dogan:DoganEpsilon",
    "steer-margin": "mermaide.principal.steer_margin:SteerMargin",
    "oracle": "mermaide.principal.oracle:Oracle",
}
for _name, _entry_point in _PRINCIPALS.items():
    register_principal(_name, _entry_point)
register_prefix("sb3", "mermaide.principal.sb3:SB3Principal")

__all__ = [
    "EpisodeStats",
    "FixedTask",
    "PopulationTasks",
    "Principal",
    "TaskDistribution",
    "after_step",
    "begin_episode",
    "check_principal",
    "evaluate",
    "make",
    "principal_names",
    "register_prefix",
    "register_principal",
    "run_episode",
    "task_key",
]
