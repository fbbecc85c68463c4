"""The two systems as peers, and the one place that tells them apart.

Action Machine (engine/systems/action_machine.py: model families "action_machine" and "pose" of
symbols.MODELS) and Luvizon et al.'s soft-argmax model (engine/systems/softargmax.py: family
"multitask") are task modules with the same functions: check a config, build the model, its
training data and loss, train, test, score. ``system_of(cfg)`` picks one by the family of
model.name; the functions below are that choice, made once, for the scripts and tools.
"""
from engine.config import load_config
from engine.pose_experiment import check_pose_keys, source_mismatch
from engine.systems import action_machine, softargmax
from engine.training.checkpoints import checkpoint_config, checkpoint_or_last, load_weights
from symbols import MODELS, family_of, names

SYSTEMS = {"action_machine": action_machine, "pose": action_machine, "multitask": softargmax}


def system_of(cfg):
    """The task module of the config's model: action_machine or softargmax."""
    name = cfg["model"]["name"]
    family = family_of(name)  # an unknown name: one line listing the names
    if family not in SYSTEMS:
        trained = [n for n, f in MODELS.items() if f in SYSTEMS]
        raise ValueError(f"model.name {name} is a {family.replace('_', ' ')} model, which no "
                         f"config trains or tests; choose one of {', '.join(trained)}")
    return SYSTEMS[family]


def build_model(cfg, ctx):
    """The config's model on ``ctx`` (a list of contexts), with its initial weights."""
    return system_of(cfg).build_model(cfg, ctx)


def check_config(cfg):
    """The keys the config's system cannot combine, refused before any work."""
    system_of(cfg).check_config(cfg)


def checked_against_checkpoint(cfg, ckpt):
    """The config to evaluate ``ckpt`` with: its model must be the one the checkpoint's own
    config (``checkpoints.checkpoint_config``) describes, with the same classes."""
    return system_of(cfg).checked_against_checkpoint(cfg, checkpoint_config(ckpt), ckpt)


def loaded_model(cfg, ctx, ckpt, log):
    """The config's network built for inference, with ``ckpt``'s weights, run in eval.dtype."""
    return system_of(cfg).loaded_model(cfg, ctx, ckpt, log)


def training_clips(cfg):
    """The run's training split as its system's training clips."""
    return system_of(cfg).training_clips(cfg)


def check_pose_config(cfg):
    """The combinations of pose-config keys that cannot run, refused before any work."""
    name = cfg["model"]["name"]
    if MODELS.get(name) not in ("pose", "multitask"):
        raise ValueError(f"unknown pose model {name!r}; choose one of "
                         f"{', '.join(names('pose') + names('multitask'))}")
    reason = source_mismatch(cfg, system_of(cfg).READS_COCO)
    if reason:
        raise ValueError(reason)
    check_pose_keys(cfg)


def build_pose_model(cfg, ctxs):
    """The pose model of a pose config (configs/pose/) on ``ctxs``, with its initial weights."""
    return system_of(cfg).build_pose_model(cfg, ctxs)


def load_model(config, checkpoint, overrides, ctx, log):
    """-> (cfg checked against its checkpoint, the network with its weights, checkpoint)."""
    cfg = load_config(config, overrides)
    ckpt = checkpoint_or_last(cfg["out"], checkpoint or cfg["eval"]["checkpoint"])
    cfg = checked_against_checkpoint(cfg, ckpt)
    cfg["model"]["pretrained"] = None  # the checkpoint holds every weight: no ImageNet load
    net = build_model(cfg, [ctx])
    load_weights(net, ckpt, [ctx], log)
    return cfg, net, ckpt
