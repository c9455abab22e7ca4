"""Hostile and broken checkpoints, for every registered principal: a file that would run code
when unpickled is refused without running it, in every format a principal reads (torch.save,
plain pickle, SB3's zip, the zip an older mermaide SB3 principal wrote); an empty, random,
truncated, other principal's or incomplete file, or one with an entry of the wrong type or a
weight of the wrong shape, raises ``CheckpointError`` naming the file; and a failed ``load``
leaves the principal exactly as it was (its attributes, weights, generators and actions)."""

import base64
import copy
import dataclasses
import io
import json
import os
import pathlib
import pickle
import zipfile

import gymnasium as gym
import numpy as np
import pytest
import stable_baselines3
import torch
from stable_baselines3.common.base_class import BaseAlgorithm

import mermaide  # noqa: F401  (registers the games)
from mermaide.checks import CheckpointError
from mermaide.envs.knobs import OBSERVES_PAYOFFS
from mermaide.principal import make, principal_names

from .conftest import bandit

# One member of each "prefix:<...>" family of the registry.
FAMILY_MEMBERS = {"sb3": "sb3:A2C"}


def registered_principals():
    names = []
    for name in principal_names():
        if "<" in name:
            prefix = name.split(":")[0]
            # A new family without a member here would go untested: fail instead.
            assert prefix in FAMILY_MEMBERS, f"add a member of {name!r} to FAMILY_MEMBERS"
            name = FAMILY_MEMBERS[prefix]
        names.append(name)
    return names


NAMES = registered_principals()

# Tiny configurations: these tests need a principal that can save, not a good one.
TINY = {
    "reinforce": dict(hidden_size=8, episodes_per_batch=4),
    "model": dict(hidden_size=8, episodes_per_batch=4, model_episodes=8,
                  world_model=dict(hidden_size=8, epochs=1)),
    "maml": dict(hidden_size=8, meta_batch=2, query_episodes=1),
    "mermaide": dict(hidden_size=8, meta_batch=2, query_episodes=1, model_episodes=8,
                     world_model=dict(hidden_size=8, epochs=1)),
    "stackelberg-pomdp": dict(hidden_size=8, episodes_per_batch=4),
    "ppo": dict(n_steps=32, batch_size=32),
    "sb3:A2C": dict(n_steps=8),
}
# Env steps of meta_train (the rest: 240, a handful of batches on the bandit game; the world
# model principals spend 240 on their model's data first).
STEPS = {"stackelberg-lp": 0, "pbrl": 0, "model": 600, "mermaide": 600}


# The game each principal is built for, when it is not the bandit game.
GAMES = {
    "stackelberg-lp": lambda: gym.make("Mermaide/Stackelberg-v0",
                                       principal_observes=OBSERVES_PAYOFFS),
    **{name: lambda: gym.make("Mermaide/IncentiveBandit-v0")
       for name in ("ipa", "dogan-eps", "steer-margin", "oracle")},
    "pbrl": lambda: gym.make("Mermaide/StackelbergMarkov-v0"),
}


def env_fn_of(name):
    return GAMES.get(name, bandit())


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """name -> the path of a saved checkpoint of a briefly trained principal ``name``."""
    folder = tmp_path_factory.mktemp("checkpoints")
    cache = {}

    def saved(name):
        if name not in cache:
            principal = trained(name)
            path = folder / f"{name.replace(':', '_')}.ckpt"
            principal.save(str(path))
            cache[name] = path
        return cache[name]

    return saved


def trained(name):
    torch.set_num_threads(1)
    principal = make(name, **TINY.get(name, {}))
    principal.meta_train(env_fn_of(name), None, STEPS.get(name, 240), seed=0)
    return principal


# --- what a principal is, to compare before and after a failed load ---------------------------


def plain(value):
    """``value`` as plain comparable data: tensors as lists, a module as its state dict, a
    generator as its state, an SB3 model as its parameters, our objects attribute by
    attribute; anything else by its repr (which, for objects, includes their identity)."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().tolist()
    if isinstance(value, torch.nn.Module):
        return plain(value.state_dict())
    if isinstance(value, np.random.Generator):
        return value.bit_generator.state
    if isinstance(value, BaseAlgorithm):
        return plain(value.get_parameters())
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return repr(value)
    if type(value).__module__.startswith("mermaide") and hasattr(value, "__dict__"):
        return {key: plain(item) for key, item in vars(value).items()}
    return repr(value)


def snapshot(principal):
    """Every attribute: which object it is, and what it holds."""
    return {key: (id(value), plain(value)) for key, value in vars(principal).items()}


def actions(principal, name):
    """The actions of a copy of ``principal`` on three observations of its game (a copy, so
    that its generator does not move)."""
    twin = copy.deepcopy(principal)
    env = env_fn_of(name)()
    played, state = [], None
    for seed in range(3):
        obs, info = env.reset(seed=seed)
        if hasattr(twin, "begin_episode"):
            twin.begin_episode({"target_action": 1, **info})
        action, state = twin.act(obs, state)
        played.append(np.asarray(action).tolist())
    return played


def refused_unchanged(principal, name, path, match=None):
    """``principal.load(path)`` raises a CheckpointError naming the file (and ``match``)
    and leaves the principal as it was."""
    before, acted = snapshot(principal), actions(principal, name)
    with pytest.raises(CheckpointError) as error:
        principal.load(str(path))
    message = str(error.value)
    assert str(path) in message and "\n" not in message, message
    if match is not None:
        assert match in message, message
    assert snapshot(principal) == before
    assert actions(principal, name) == acted
    return message


# --- code-running payloads --------------------------------------------------------------------


class Touch:
    """Unpickling this creates ``marker``: what a crafted checkpoint would do with
    ``os.system`` instead."""

    def __init__(self, marker):
        self.marker = pathlib.Path(marker)

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


def sb3_zip(marker):
    """A zip in SB3's layout whose every part would run code under SB3's ``load``: the
    ``data`` JSON holds a cloudpickled (here: pickled) object, the ``.pth`` parts are
    torch.save'd objects."""
    serialized = base64.b64encode(pickle.dumps(Touch(marker))).decode()
    data = {"policy_class": {":type:": "<class 'type'>", ":serialized:": serialized},
            "observation_space": {":type:": "<class 'type'>", ":serialized:": serialized}}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("data", json.dumps(data))
        for part in ("policy.pth", "policy.optimizer.pth", "pytorch_variables.pth"):
            tensors = io.BytesIO()
            torch.save({"payload": Touch(marker)}, tensors)
            archive.writestr(part, tensors.getvalue())
        archive.writestr("_stable_baselines3_version", stable_baselines3.__version__)
        archive.writestr("system_info.txt", "")
    return buffer.getvalue()


def write_payload(fmt, path, marker, name):
    """A file in format ``fmt`` that creates ``marker`` when unpickled, shaped as the
    principal ``name``'s checkpoint (so that only refusing to unpickle protects)."""
    payload = {"principal": name, "config": Touch(marker), "payload": Touch(marker)}
    if fmt == "torch.save":
        torch.save(payload, path)
    elif fmt == "pickle":
        with open(path, "wb") as file:
            pickle.dump(payload, file)
    elif fmt == "sb3-zip":
        pathlib.Path(path).write_bytes(sb3_zip(marker))
    elif fmt == "mermaide-sb3-zip":  # the layout SB3 principals saved before: SB3's zip inside
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("sb3.zip", sb3_zip(marker))
            archive.writestr("mermaide.json", json.dumps({
                "principal": "sb3", "algorithm": "A2C", "policy": "MlpPolicy",
                "episode_length": 30, "seed": 0}))
    else:
        raise AssertionError(fmt)


FORMATS = ("torch.save", "pickle", "sb3-zip", "mermaide-sb3-zip")


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_payloads_do_run_code_when_unpickled(tmp_path, fmt):
    """The control: read without the protection, each payload creates its marker (so the
    test below would catch a load that unpickles)."""
    marker, path = tmp_path / "marker", tmp_path / "payload"
    write_payload(fmt, path, marker, "reinforce")
    try:
        if fmt.endswith("sb3-zip"):
            raw = path.read_bytes()
            if fmt == "mermaide-sb3-zip":
                raw = zipfile.ZipFile(path).read("sb3.zip")
            stable_baselines3.A2C.load(io.BytesIO(raw))
        else:
            torch.load(path, weights_only=False)
    except Exception:  # what SB3's load does after the payload ran does not matter here
        pass
    assert marker.exists()


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", NAMES)
def test_a_code_running_checkpoint_is_refused_and_runs_nothing(tmp_path, name, fmt):
    marker, path = tmp_path / "marker", tmp_path / "payload"
    write_payload(fmt, path, marker, "sb3" if name.startswith(("sb3", "ppo")) else name)
    with pytest.raises(CheckpointError, match=str(path)):
        make(name, **TINY.get(name, {})).load(str(path))
    assert not marker.exists()


def test_every_principal_read_with_world_models_refuses_a_payload(tmp_path):
    from mermaide.principal.world_model import AgentWorldModel

    marker, path = tmp_path / "marker", tmp_path / "payload"
    for fmt in ("torch.save", "pickle"):
        write_payload(fmt, path, marker, "world_model")
        with pytest.raises(CheckpointError, match=str(path)):
            AgentWorldModel.load(path)
    assert not marker.exists()


# --- broken files -----------------------------------------------------------------------------


def broken_files(own, folder):
    """(case, path) of files that are not a usable checkpoint of ``own``'s principal."""
    raw = own.read_bytes()
    cases = {"empty": b"", "random bytes": np.random.default_rng(0).bytes(len(raw)),
             "truncated": raw[: len(raw) // 2]}
    for case, content in cases.items():
        path = folder / case.replace(" ", "_")
        path.write_bytes(content)
        yield case, path


def others(name):
    """Two other principals: one that saves JSON, one that saves with torch.save."""
    return [next(n for n in ("none", "always") if n != name),
            next(n for n in ("reinforce", "maml") if n != name)]


@pytest.mark.parametrize("name", NAMES)
def test_a_broken_file_is_refused_and_changes_nothing(tmp_path, checkpoints, name):
    principal = make(name)
    principal.load(str(checkpoints(name)))
    for _, path in broken_files(checkpoints(name), tmp_path):
        refused_unchanged(principal, name, path)
    own_format = read(checkpoints(name))[1]
    for other in others(name):
        message = refused_unchanged(principal, name, checkpoints(other))
        if read(checkpoints(other))[1] is own_format:  # the file says whose it is
            assert f"does not hold a {'sb3' if name == 'ppo' else name.split(':')[0]!r}" \
                f" principal: it holds {other!r}" in message, message


def read(path):
    """A checkpoint's content and its writer: JSON (heuristics, the LP) or torch.save."""
    try:
        return json.loads(path.read_text()), _write_json
    except UnicodeDecodeError:
        return torch.load(path, weights_only=True), torch.save


def _write_json(content, path):
    pathlib.Path(path).write_text(json.dumps(content))


@pytest.mark.parametrize("name", NAMES)
def test_a_checkpoint_with_an_entry_missing_or_wrong_is_refused(tmp_path, checkpoints, name):
    principal = make(name)
    principal.load(str(checkpoints(name)))
    content, write = read(checkpoints(name))
    path = tmp_path / "edited"
    for key in [key for key in content if key != "principal"]:
        write({k: v for k, v in content.items() if k != key}, path)
        refused_unchanged(principal, name, path, match=repr(key))
        write({**content, key: "not what it should be"}, path)
        refused_unchanged(principal, name, path)


def weights(content, trail=()):
    """(trail of keys, state dict) of every module's state dict (a dict of tensors) in a
    checkpoint; an optimiser's state is not a module's (torch does not check its keys)."""
    if isinstance(content, dict) and not any("optimizer" in str(key) for key in trail):
        if content and all(isinstance(v, torch.Tensor) for v in content.values()):
            yield trail, content
        else:
            for key, value in content.items():
                yield from weights(value, (*trail, key))


def replaced(content, trail, state_dict):
    if not trail:
        return state_dict
    return {**content, trail[0]: replaced(content[trail[0]], trail[1:], state_dict)}


# The principals that save a module's weights (the others save plain data: see below).
WEIGHTED = ("reinforce", "model", "maml", "mermaide", "stackelberg-pomdp", "ppo", "sb3:A2C")


@pytest.mark.parametrize("name", [name for name in NAMES if name not in WEIGHTED])
def test_the_other_principals_save_no_weights(checkpoints, name):
    """So that a principal with weights cannot go untested by missing from WEIGHTED."""
    content, _ = read(checkpoints(name))
    assert not list(weights(content)), f"{name!r} saves weights: add it to WEIGHTED"


@pytest.mark.parametrize("name", WEIGHTED)
def test_a_weight_missing_or_of_the_wrong_shape_is_refused(tmp_path, checkpoints, name):
    principal = make(name)
    principal.load(str(checkpoints(name)))
    content = torch.load(checkpoints(name), weights_only=True)
    path = tmp_path / "edited"
    found = list(weights(content))
    assert found
    for trail, state_dict in found:
        first = next(iter(state_dict))
        torch.save(replaced(content, trail, {k: v for k, v in state_dict.items()
                                             if k != first}), path)
        refused_unchanged(principal, name, path, match=first)
        wrong = torch.zeros((*state_dict[first].shape, 2))
        torch.save(replaced(content, trail, {**state_dict, first: wrong}), path)
        refused_unchanged(principal, name, path, match=first)


def test_the_lp_refuses_a_layout_of_the_wrong_size(tmp_path, checkpoints):
    principal = make("stackelberg-lp")
    principal.load(str(checkpoints("stackelberg-lp")))
    content = json.loads(checkpoints("stackelberg-lp").read_text())
    path = tmp_path / "edited.json"
    layout = content["layout"]
    for edit in ({"obs_dim": layout["obs_dim"] + 1}, {"m": 0}, {"action": "exec"}):
        _write_json({**content, "layout": {**layout, **edit}}, path)
        refused_unchanged(principal, "stackelberg-lp", path)


def test_the_world_model_refuses_broken_files(tmp_path, checkpoints):
    from mermaide.principal.world_model import AgentWorldModel

    model = make("model", **TINY["model"])
    model.load(str(checkpoints("model")))
    good = tmp_path / "wm.pt"
    model.world_model.save(good)
    AgentWorldModel.load(good)
    for _, path in [*broken_files(good, tmp_path), ("another's", checkpoints("model"))]:
        with pytest.raises(CheckpointError, match=str(path)):
            AgentWorldModel.load(path)
    content = torch.load(good, weights_only=True)
    for key in content:
        torch.save({k: v for k, v in content.items() if k != key}, tmp_path / "edited")
        with pytest.raises(CheckpointError, match=repr(key)):
            AgentWorldModel.load(tmp_path / "edited")


def test_a_missing_file_is_the_file_systems_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        make("reinforce").load(str(tmp_path / "nothing-here"))
    assert not os.path.exists(tmp_path / "nothing-here")
