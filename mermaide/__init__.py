"""mermaide: principals that learn to steer learning agents.

``import mermaide`` registers the ``Mermaide/...`` Gymnasium environments; the Gymnasium 1.x
idiom ``gymnasium.register_envs(mermaide)`` works too.
"""

from mermaide import agents, envs

__version__ = "0.1.0"
__all__ = ["__version__", "agents", "envs"]
