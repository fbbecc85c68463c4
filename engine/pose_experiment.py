"""From a pose config (configs/pose/) to the objects of a pose run: the checks of its keys, the
pose model, its frames (the soft-argmax models) or COCO images (the heat-map models).

Like ``engine.experiment`` for the video configs, the one place that reads these config keys.
"""
from data.coco import CocoPose
from data.multitask.pose_frames import PoseFrames, hold_out
from data.multitask.pose_images import layout_of, num_joints
from data.pose_targets import disk_radius
from engine.training.checkpoints import checkpoint_config
from engine.experiment import split_samples
from symbols import get_model, names


def pose_radius_of(cfg):
    """The disk radius M (input pixels) of a pose config: data.radius, or the ruling scaled to
    the input height."""
    d = cfg["data"]
    stride = 32 // 2 ** cfg["model"]["options"].get("num_deconv", 2)
    return d["radius"] if d["radius"] is not None else disk_radius(d["input_size"][1], stride)


def check_pose_keys(cfg):
    """The combinations of pose-config keys that cannot run, refused before any work (the model
    family against data.source: ``source_mismatch``): the soft-argmax models take square crops;
    the plateau schedule needs validation frames."""
    d, t = cfg["data"], cfg["train"]
    if d["source"] != "coco" and d["input_size"][0] != d["input_size"][1]:
        raise ValueError(f"data.input_size is {d['input_size']}; the soft-argmax models take "
                         f"square crops (Appendix B: 256 x 256)")
    if t["lr_schedule"] == "plateau" and not (d["source"] != "coco" and d["val_share"] > 0):
        raise ValueError("train.lr_schedule plateau needs a validation score: a soft-argmax "
                         "data.source with data.val_share > 0")
    if cfg["eval"]["crops"] not in (1, 5):
        raise ValueError(f"eval.crops is {cfg['eval']['crops']}; it is 1 (single-crop) or 5 "
                         f"(multi-crop)")
    if d["source"] not in ("coco", "synth"):
        layout_of(cfg)  # data.mix and data.mix_ratios agree
    sources = d["mix"] if d["source"] == "mix" else [d["source"]]
    deep = [s for s in sources if s in ("synth", "h36m", "ntu")]
    if cfg["model"]["options"].get("context_maps") and deep:
        raise ValueError(f"model.options.context_maps: ref. [28]'s 2D model predicts no depth, "
                         f"and {', '.join(deep)} trains it; use the volumetric model "
                         f"(context_maps 0) or 2D data (mpii, penn_action)")


def source_mismatch(cfg, reads_coco):
    """The one-line reason a pose model that reads COCO keypoints (``reads_coco``: the heat-map
    models) or frames with 3D ground truth (the soft-argmax ones) cannot train on the config's
    data.source; None when it can."""
    name, source = cfg["model"]["name"], cfg["data"]["source"]
    if reads_coco == (source == "coco"):
        return None
    return (f"model {name} does not train on data.source {source}: the heat-map models "
            f"({', '.join(names('pose'))}) read COCO keypoints, the soft-argmax models "
            f"({', '.join(names('multitask'))}) frames with 3D ground truth (data.source synth) "
            f"or the real datasets (mpii, h36m, penn_action, ntu, mix)")


def heatmap_pose_model(cfg, ctxs):
    """A heat-map pose model (family "pose" of symbols.MODELS) on ``ctxs``, with its initial
    weights."""
    m = cfg["model"]
    return get_model(m["name"], pretrained=m["pretrained"], ctx=ctxs, **m["options"])


def softargmax_pose_model(cfg, ctxs):
    """The pose part of a soft-argmax model (family "multitask") on ``ctxs``, with its initial
    weights; its input size and joints come from the data."""
    m = cfg["model"]
    options = dict(m["options"])
    derived = dict(parts="pose", input_size=cfg["data"]["input_size"][0],
                   num_joints=num_joints(cfg))
    for key, value in derived.items():
        if options.setdefault(key, value) != value:
            raise ValueError(f"model.options.{key} is {options[key]!r}; the data give {value!r} "
                             f"(leave it out: it is derived)")
    return get_model(m["name"], pretrained=m["pretrained"], ctx=ctxs, **options)


def pose_frames(cfg, split):
    """The frames of a pose config with data.source synth: ``split`` 'train' (the protocol's
    train split less the validation performances), 'val' (data.val_share of the train split's
    performances, chosen by train.seed) or 'test' (the protocol's test split)."""
    d = cfg["data"]
    if split not in ("train", "val", "test"):
        raise ValueError(f"split is train, val or test, got {split!r}")
    samples = split_samples(cfg, "test" if split == "test" else "train")
    if split != "test":
        kept, held = hold_out(samples, d["val_share"], cfg["train"]["seed"])
        samples = kept if split == "train" else held
    return PoseFrames(
        d["prepared"], samples, mode="train" if split == "train" else "test",
        size=d["input_size"][0], frame_step=d["frame_step"], margin=d["crop_margin"],
        depth_range=d["depth_range_mm"], scale=d["scale"], rotation=d["rotation"],
        rotation_prob=d["rotation_prob"], translation=d["translation"], flip=d["flip"],
        seed=cfg["train"]["seed"], outside=d["outside_joints"])


def check_pose_checkpoint(cfg, ckpt):
    """A soft-argmax checkpoint decodes right only under the model, input size and depth range
    it was trained with (checkpoints.checkpoint_config): a difference is a ValueError."""
    saved = checkpoint_config(ckpt)
    pairs = [("model.name", saved["model"]["name"], cfg["model"]["name"]),
             ("model.options", saved["model"]["options"], cfg["model"]["options"])]
    pairs += [(f"data.{k}", saved["data"].get(k), cfg["data"][k])
              for k in ("input_size", "depth_range_mm")]
    for key, theirs, mine in pairs:
        if theirs != mine:
            raise ValueError(f"{ckpt} was trained with {key}={theirs!r}; the config has "
                             f"{mine!r}")


def coco_dataset(cfg, split, detections=None):
    """The pose config's COCO train or val set; ``detections``: test boxes (COCO results)."""
    d = cfg["data"]
    ann, images = (d["train_ann"], d["train_images"]) if split == "train" else \
        (d["val_ann"], d["val_images"])
    return CocoPose(ann, images, mode="train" if split == "train" else "test",
                    input_size=d["input_size"], scale=d["scale"], rotation=d["rotation"],
                    flip=d["flip"], detections=detections, seed=cfg["train"]["seed"],
                    heatmap_stride=32 // 2 ** cfg["model"]["options"].get("num_deconv", 2),
                    radius=pose_radius_of(cfg), aspect=d["aspect"],
                    rotation_prob=d["rotation_prob"])
