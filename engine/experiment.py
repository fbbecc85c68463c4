"""From a resolved video config to the objects of a run: devices, samples, datasets, and the
parts each system builds its model and checks from (Action Machine's, then Luvizon et al.'s
multitask model's). Which system a config is, and so which of these it uses, is decided once, in
``engine.systems``. A pose config's objects: ``engine.pose_experiment``.

The scripts (train_action.py, eval_action.py) own logging, devices and seeds; this module is the
one place that reads config keys to build things, so a key means the same in every script.
"""
import copy
import logging
import os
import sys

import mxnet as mx

from data.index import read_boxes, read_index, read_splits
from data.loader import ClipDataset
from data.multitask.clips import MultitaskClips
from data.pose_targets import disk_radius
from data import registry
from symbols import get_model, model_config, names
from symbols.model_zoo import multitask_config


def contexts(gpus=None, cpus=None):
    """--gpus 0,1,2,3 -> [gpu(0), ...]; --cpus N -> [cpu(0), ..., cpu(N-1)]; default [cpu(0)].
    SystemExit with one line when the GPUs asked for are not there."""
    if gpus:
        try:
            ids = [int(i) for i in str(gpus).split(",") if i.strip()]
        except ValueError:
            raise SystemExit(f"error: --gpus {gpus}: give GPU ids, e.g. --gpus 0,1") from None
        if not mx.runtime.Features().is_enabled("CUDA"):
            raise SystemExit(f"error: --gpus {gpus}: this MXNet is the CPU build; install the "
                             f"GPU build with make install MXNET=mxnet-cu112 (CUDA 11.2), or "
                             f"leave out --gpus to run on the CPU")
        found = mx.context.num_gpus()
        if any(i >= found for i in ids):
            raise SystemExit(f"error: --gpus {gpus}: this machine has {found} GPU(s) "
                             f"(ids 0..{found - 1})")
        return [mx.gpu(i) for i in ids]
    return [mx.cpu(i) for i in range(cpus or 1)]


def setup_logging(out, name):
    """Console + OUT/NAME.log, plain text with timestamps."""
    os.makedirs(out, exist_ok=True)
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    for h in list(root.handlers):
        root.removeHandler(h)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(message)s")
    for handler in (logging.StreamHandler(sys.stderr),
                    logging.FileHandler(os.path.join(out, f"{name}.log"))):
        handler.setFormatter(fmt)
        root.addHandler(handler)
    return logging.getLogger(name)


def dataset_of(cfg):
    """The adapter of the config's dataset (a custom dataset's read from its prepared folder)."""
    return registry.dataset(cfg["data"]["dataset"], "video").adapter(cfg["data"]["prepared"])


def split_samples(cfg, split):
    """The samples of ``split`` ('train' or 'test') of the config's protocol."""
    prepared = cfg["data"]["prepared"]
    if not os.path.isfile(os.path.join(prepared, "splits.json")):
        raise FileNotFoundError(
            f"{prepared} holds no prepared dataset (no splits.json): prepare it first with make "
            f"prepare DATASET={cfg['data']['dataset']} RAW=/path/to/its/videos, or point "
            f"data.prepared=DIR at a prepared copy")
    splits = read_splits(prepared)["protocols"]
    protocol = cfg["data"]["protocol"]
    if protocol not in splits:
        raise ValueError(f"{prepared}/splits.json has no protocol {protocol!r}")
    ids = set(splits[protocol][split])
    samples = [s for s in read_index(prepared) if s["id"] in ids]
    if not samples:
        raise ValueError(f"protocol {protocol} has no {split} sample in {prepared}")
    return samples


def heatmap_stride(cfg):
    """Input pixels per heatmap cell of the config's model: 32 / 2**num_deconv."""
    return 32 // 2 ** model_config(cfg["model"]["name"], **cfg["model"]["options"]).num_deconv


def disk_radius_of(cfg):
    """The disk radius M (input pixels) of a video config: model.options.radius, or the G-RMI
    ruling scaled to data.size. The targets and the model's decoder both take it from here."""
    radius = model_config(cfg["model"]["name"], **cfg["model"]["options"]).radius
    return radius if radius is not None else disk_radius(cfg["data"]["size"], heatmap_stride(cfg))


def clip_dataset(cfg, samples, mode, with_poses):
    d = cfg["data"]
    dataset = dataset_of(cfg)
    boxes = read_boxes(d["boxes"])[0] if d["crop"] == "person" else None
    return ClipDataset(
        d["prepared"], samples, boxes=boxes, mode=mode, crop=d["crop"],
        poses_dir=d["poses"] if with_poses else None, clip_len=d["clip_len"],
        stride=d["stride"] or dataset.STRIDE, size=d["size"], heatmap_stride=heatmap_stride(cfg),
        radius=disk_radius_of(cfg), jitter=(d["jitter_center"], d["jitter_size"]),
        mirror=d["mirror"], num_clips=cfg["eval"]["num_clips"], seed=cfg["train"]["seed"],
        backend=d["backend"], crop_aspect=d["crop_aspect"],
        random_crop_scale=d["random_crop_scale"], test_crop_scale=cfg["eval"]["test_crop_scale"],
        min_confidence=d["pose_min_confidence"],
        decoded=os.path.join(d["prepared"], "decoded") if d["frame_cache"] else None)


def check_num_classes(cfg):
    """Your own videos: the Action Machine model's classes must be the prepared dataset's (the
    multitask model derives its number of actions from the data)."""
    if cfg["data"]["dataset"] != "custom":
        return
    classes = len(dataset_of(cfg).CLASSES)
    given = cfg["model"]["options"].get("num_classes")
    if given != classes:
        raise ValueError(f"model.options.num_classes is {given}, but {cfg['data']['prepared']} "
                         f"holds {classes} classes: set model.options.num_classes={classes}")


def model_options(cfg, num_devices=1):
    m = cfg["model"]
    options = dict(m["options"], input_size=cfg["data"]["size"],
                   num_frames=cfg["data"]["clip_len"], global_stats=m["global_stats"],
                   radius=disk_radius_of(cfg))
    if m["sync_bn"]:
        options["sync_devices"] = num_devices
    return options


def build_with(cfg, ctx, options):
    """The config's model on ``ctx`` (a list of contexts) with ``options``, with its initial
    weights (model.pretrained)."""
    m = cfg["model"]
    return get_model(m["name"], pretrained=m["pretrained"], ctx=ctx, **options)


def inference_options(cfg):
    """Action Machine built for inference: plain 5D batch norm (``bn_fold_time=False``: the
    same parameters, oneDNN can fuse it; the 4D view exists for training on CPU), the stride-2
    shortcut projections as a subsampling and a stride-1 convolution (``shortcut="subsample"``:
    the same numbers, faster fused) and no cross-device batch norm (inference uses the running
    statistics)."""
    options = dict(model_options(cfg), bn_fold_time=False, shortcut="subsample")
    options.pop("sync_devices", None)
    return options


# ---- Luvizon et al.'s multitask model in a video config ----------------------------------------
MULTITASK_STAGES = ("pose_frozen", "end_to_end")  # Appendix B's two action stages


def multitask_options(cfg):
    """The ``MultitaskConfig`` fields of a video config's multitask model: model.options, with
    the parts, input size, clip length and number of actions derived from the data (an option
    that contradicts them is an error)."""
    options = dict(cfg["model"]["options"])
    derived = dict(parts="pose+action", input_size=cfg["data"]["size"],
                   num_frames=cfg["data"]["clip_len"],
                   num_actions=len(dataset_of(cfg).CLASSES))
    for key, value in derived.items():
        if options.setdefault(key, value) != value:
            raise ValueError(f"model.options.{key} is {options[key]!r}; the data give {value!r} "
                             f"(leave it out: it is derived)")
    return options


def check_action_machine_config(cfg):
    """An Action Machine config may not name a multitask stage or a multitask-only key."""
    t, m = cfg["train"], cfg["model"]
    if t["stage"] in MULTITASK_STAGES:
        raise ValueError(f"train.stage {t['stage']} is a stage of the multitask models "
                         f"({', '.join(names('multitask'))}); model {m['name']} trains in "
                         f"stage joint or pose_cnn")
    for key, value, default in (("train.lr_schedule", t["lr_schedule"], "step"),
                                ("data.val_share", cfg["data"]["val_share"], 0.0),
                                ("train.init_lr_divisor", t["init_lr_divisor"], None),
                                ("train.stop_patience", t["stop_patience"], None)):
        if value != default and (key, value) != ("train.lr_schedule", "cosine"):
            raise ValueError(f"{key} is {value!r}: only the multitask models "
                             f"({', '.join(names('multitask'))}) use it; model {m['name']} "
                             f"takes {default!r}")


def check_multitask_config(cfg):
    """The keys a multitask video config cannot combine, refused before any work."""
    t, m = cfg["train"], cfg["model"]
    if t["lr_schedule"] == "plateau" and cfg["data"]["val_share"] <= 0:
        raise ValueError("train.lr_schedule plateau needs a validation score: set "
                         "data.val_share > 0 (or train.lr_schedule=step for train.lr_steps)")
    if t["init_lr_divisor"] is not None and t["stage"] != "end_to_end":
        raise ValueError(f"train.init_lr_divisor divides the final lr of the run that stage "
                         f"end_to_end starts from; stage {t['stage']} takes train.lr (set "
                         f"train.init_lr_divisor=null)")
    if t["stage"] not in MULTITASK_STAGES:
        raise ValueError(f"model {m['name']} trains in stage {' or '.join(MULTITASK_STAGES)} "
                         f"(Appendix B), not {t['stage']}")
    if m["global_stats"] != "none":
        raise ValueError(f"model.global_stats is {m['global_stats']}: the multitask model's "
                         f"batch norm follows train.stage (pose_frozen: its pose part on running "
                         f"statistics); leave it null")
    if m["pretrained"]:
        raise ValueError(f"model.pretrained: {m['name']} has no ImageNet weights; its pose part "
                         f"starts from a trained pose model (train.init_from)")
    if not t["init_from"]:
        raise ValueError(f"train.stage {t['stage']} starts from a trained model: set "
                         f"train.init_from (pose_frozen: the pose run's final.params; "
                         f"end_to_end: the pose_frozen run's)")
    multitask_config(m["name"], **multitask_options(cfg))  # unknown options: one line


def multitask_clips(cfg, samples, mode):
    """The clips of a multitask video config (data/multitask/clips.py)."""
    d, t = cfg["data"], cfg["train"]
    options = multitask_config(cfg["model"]["name"], **multitask_options(cfg))
    return MultitaskClips(
        d["prepared"], samples, mode=mode, clip_len=d["clip_len"], size=d["size"],
        stride=d["stride"] or dataset_of(cfg).STRIDE, subsample=d["subsample"],
        test_clips=cfg["eval"]["multitask_clips"], num_joints=options.num_joints,
        pose_targets=mode == "train" and t["multitask_pose_weight"] > 0,
        margin=d["crop_margin"], depth_range=d["depth_range_mm"], scale=d["scale"],
        rotation=d["rotation"], rotation_prob=d["rotation_prob"], translation=d["translation"],
        flip=d["mirror"], seed=t["seed"], backend=d["backend"])


def checked_action_machine(cfg, saved, ckpt):
    """The config to evaluate ``ckpt`` with (a copy): its model must be the one the checkpoint's
    own config (``saved``, ``checkpoints.checkpoint_config``) describes, with the same classes. A
    cross-dataset config (Table 13) takes the number of classes from the checkpoint (the source
    dataset's)."""
    cfg = copy.deepcopy(cfg)
    mine, theirs = cfg["model"], saved["model"]
    mapping = cfg["eval"]["cross_dataset"]
    source = mapping.rsplit("_", 1)[-1] if mapping else cfg["data"]["dataset"]
    if saved["data"]["dataset"] != source:
        raise ValueError(f"{ckpt} holds a model of {saved['data']['dataset']}'s classes; this "
                         f"config needs one trained on {source}")
    if mapping:
        mine["options"]["num_classes"] = model_config(theirs["name"],
                                                      **theirs["options"]).num_classes
    want = model_config(mine["name"], **mine["options"])
    have = model_config(theirs["name"], **theirs["options"])
    if mine["name"] != theirs["name"] or want != have:
        diff = [f for f in want.__dataclass_fields__ if getattr(want, f) != getattr(have, f)]
        field = diff[0] if diff else "name"
        raise ValueError(f"{ckpt} holds model {theirs['name']} with {field}="
                         f"{getattr(have, field, theirs['name'])!r}; the config asks for "
                         f"{mine['name']} with {field}={getattr(want, field, mine['name'])!r}")
    for key in ("size", "clip_len"):
        if saved["data"][key] != cfg["data"][key]:
            raise ValueError(f"{ckpt} was trained with data.{key}={saved['data'][key]}; the "
                             f"config has {cfg['data'][key]}")
    return cfg


def checked_multitask(cfg, saved, ckpt):
    """``checked_action_machine`` for a multitask model: the same model, data and size."""
    cfg = copy.deepcopy(cfg)
    want = multitask_config(cfg["model"]["name"], **multitask_options(cfg))
    try:
        have = multitask_config(saved["model"]["name"], **multitask_options(saved))
    except ValueError as err:
        raise ValueError(f"{ckpt} does not hold this config's model: {err}") from None
    if saved["data"]["dataset"] != cfg["data"]["dataset"] or want != have:
        diff = [f for f in want.__dataclass_fields__ if getattr(want, f) != getattr(have, f)]
        raise ValueError(f"{ckpt} holds model {saved['model']['name']} of "
                         f"{saved['data']['dataset']}'s classes"
                         + (f" with {diff[0]}={getattr(have, diff[0])!r}; the config asks for "
                            f"{getattr(want, diff[0])!r}" if diff else
                            f"; this config needs one trained on {cfg['data']['dataset']}"))
    return cfg


def missing_pose_files(cfg, samples):
    """Ids of ``samples`` with no pose file in data.poses (checked before any work)."""
    poses = cfg["data"]["poses"]
    return [s["id"] for s in samples if not os.path.isfile(os.path.join(poses, s["id"] + ".npy"))]


def check_training_inputs(cfg, samples, with_poses):
    """Every file a training run reads, before the model is built or anything is written."""
    if with_poses:
        missing = missing_pose_files(cfg, samples)
        if missing:
            raise FileNotFoundError(
                f"{len(missing)} of {len(samples)} training videos have no pose file in "
                f"{cfg['data']['poses']}, first {missing[0]!r}: run pseudo_poses.py (make "
                f"pseudo-poses) for this dataset")
    for key in ("init_from", "pose_cnn_init"):
        path = cfg["train"][key]
        if path and not os.path.isfile(path):
            raise FileNotFoundError(f"train.{key}: no checkpoint at {path}: train that run first")


def init_fresh(cfg):
    """Name prefixes of the parameters that do not come from train.init_from: the config's
    train.init_fresh, or by default the pose CNN in stage 2 and nothing in the joint stage."""
    fresh = cfg["train"]["init_fresh"]
    if fresh is None:
        fresh = ["pose_cnn."] if cfg["train"]["stage"] == "pose_cnn" else []
    return tuple(fresh)
