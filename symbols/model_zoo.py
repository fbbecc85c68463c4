"""Named model configurations and ``get_model``: the one place a name becomes a network.

One registry, ``MODELS`` (name -> family), over five families:
- ``action_machine``: ``i3d_resnet50`` (RGBAction), ``kps_i3d_resnet50`` (KPS RGBAction),
  ``action_machine_r18`` / ``action_machine_r50`` (KPS PoseAction RGBAction with a ResNet-18 /
  -50 pose CNN);
- ``pose``: the 2D pose model whose pseudo-poses train the pose head (paper Sec. 4.2);
- ``multitask``: Luvizon et al. 2018's soft-argmax network (symbols/multitask/);
- ``detector``: the person detectors (``dcn_rfcn``, ``dcn_rfcn_tiny``; symbols/detector/), and any
  GluonCV COCO detector as ``gluoncv:NAME``: frames -> boxes, not a HybridBlock;
- ``published_pose``: GluonCV's published COCO pose models, ``gluoncv:simple_pose_*``
  (symbols/published_pose.py), which label videos with pseudo-poses.
``*_tiny`` are the same code at toy widths and depths, for tests and the demo.
"""
import dataclasses
import logging

import mxnet as mx

from symbols import published_pose
from symbols.action_machine import ActionMachine, check_heads
from symbols.detector import GLUONCV, RFCN_DETECTORS
from symbols.detector.person_detector import get_person_detector
from symbols.inflate import DEFAULT_2D_SOURCE, inflate_into, load_2d_params
from symbols.multitask.model import MultitaskConfig, MultitaskNet
from symbols.pose_net import PoseNet


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    num_classes: int = 60
    heads: tuple = ("rgb", "kps", "pose")
    depth: int = 50  # I3D trunk (paper Table 1)
    layers: tuple = None  # blocks per stage, overriding ``depth``'s
    base_width: int = 64
    temporal_kernel: int = 3
    stem_temporal_kernel: int = 5
    num_frames: int = 8  # not a weight shape; the clip length the model is built for
    input_size: int = 224
    num_keypoints: int = 17
    num_deconv: int = 2
    deconv_filters: int = 256
    radius: float = None  # disk radius M in input pixels; None: 25 px per 353 px of crop
    pose_cnn_depth: int = 18
    pose_cnn_layers: tuple = None
    pose_cnn_width: int = 64
    dropout: float = 0.5
    global_stats: str = "none"  # batch norm on running statistics: none, backbone, all
    sync_devices: int = 0  # > 0: SyncBatchNorm across this many GPUs
    bn_fold_time: bool = True  # 3D batch norm on a 4D view (trainable on CPU); False: inference
    decoder: str = "argmax"  # keypoints for the pose CNN: argmax + offset (the paper, no
    # gradient) or softargmax (Luvizon et al.'s, differentiable: Lpaction reaches the pose head)
    pose_input: str = "absolute"  # the pose CNN's x, y: as decoded (the paper) or "centred" on
    # the clip's mean (symbols/pose_cnn.py)
    shortcut: str = "strided"  # the stride-2 1x1x1 projections: a strided convolution, or
    # "subsample" (the same numbers, faster fused: the inference networks use it; symbols/resnet.py)

    def network_kwargs(self):
        kwargs = dataclasses.asdict(self)
        kwargs.pop("num_frames")
        return kwargs


_TINY = dict(layers=(1, 1, 1, 1), base_width=8, deconv_filters=16, pose_cnn_layers=(1, 1, 1, 1),
             pose_cnn_width=8, num_frames=4, input_size=64, num_classes=10)
ACTION_MACHINE = {
    "i3d_resnet50": dict(heads=("rgb",)),
    "kps_i3d_resnet50": dict(heads=("rgb", "kps")),
    "action_machine_r18": dict(pose_cnn_depth=18),
    "action_machine_r50": dict(pose_cnn_depth=50),
    "i3d_tiny": dict(_TINY, heads=("rgb",)),
    "kps_i3d_tiny": dict(_TINY, heads=("rgb", "kps")),
    "action_machine_tiny": dict(_TINY),
    "action_machine_r50_tiny": dict(_TINY, pose_cnn_depth=50),
}


def _named_fields(registry, config_class, name, overrides):
    """A registry entry's fields with ``overrides``; unknown names and keys are errors."""
    if name not in registry:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(registry)}")
    valid = [f.name for f in dataclasses.fields(config_class)]
    for key in overrides:
        if key not in valid:
            raise ValueError(f"unknown model option {key!r}; valid options: {', '.join(valid)}")
    return dict(registry[name], **overrides)


def model_config(name, **overrides):
    """The ``ModelConfig`` of a named model with overrides; unknown names and keys are errors."""
    fields = _named_fields(ACTION_MACHINE, ModelConfig, name, overrides)
    for key in ("heads", "layers", "pose_cnn_layers"):
        if fields.get(key) is not None:
            fields[key] = tuple(fields[key])
    fields["heads"] = check_heads(fields.get("heads", ModelConfig.heads))
    return ModelConfig(**fields)


def get_model(name, pretrained=None, ctx=None, **overrides):
    """Build a named model of any family (``MODELS``), initialized on ``ctx``.

    ``pretrained``: None (random init), True (ImageNet ResNet from the GluonCV model zoo, which
    downloads) or a path to a 2D ResNet .params file; its weights are inflated into the I3D
    backbone (paper Sec. 4.3), or copied into the pose model's. An Action Machine or multitask
    network keeps its config as ``net.config``. A detector (``weights=``, ``convert=``: see
    ``person_detector.get_person_detector``) is a callable frames -> boxes; a published pose
    model (``weights=``: a .params file instead of GluonCV's download) a hybridized network.
    """
    family = family_of(name)
    if family == "detector":
        return get_person_detector(name, overrides.pop("weights", None), _one(ctx), **overrides)
    if family == "published_pose":
        return published_pose.load(published_pose.model_name(name), overrides.get("weights"),
                                   _one(ctx))
    if MODELS[name] == "multitask":
        return get_multitask_model(name, pretrained, ctx, **overrides)
    if MODELS[name] == "pose":
        return get_pose_model(name, pretrained, ctx, **overrides)
    config = model_config(name, **overrides)
    net = ActionMachine(**config.network_kwargs())
    net.initialize(ctx=ctx or mx.cpu())
    if pretrained:
        source = DEFAULT_2D_SOURCE if pretrained is True else pretrained
        mapping = inflate_into(net.backbone, load_2d_params(source))
        log = logging.getLogger(__name__)
        log.info("inflated %d parameters from %s", len(mapping), source)
        for row in mapping:
            log.debug("  %s: %s -> %s (%s)", *row)
    net.config = config
    return net


# 2D pose models (paper Sec. 4.2): the paper's ResNet-50 and a tiny one for tests and the demo.
POSE = {
    "pose_resnet50": dict(depth=50),
    "pose_tiny": dict(depth=50, layers=(1, 1, 1, 1), base_width=8, deconv_filters=16),
}


def get_pose_model(name, pretrained=None, ctx=None, **overrides):
    """A named 2D pose model; ``pretrained`` as for ``get_model`` (ImageNet ResNet, by name)."""
    net = PoseNet(**dict(POSE[name], **overrides))
    net.initialize(ctx=ctx or mx.cpu())
    if pretrained:
        source = DEFAULT_2D_SOURCE if pretrained is True else pretrained
        mapping = inflate_into(net.backbone, load_2d_params(source))  # same shapes: a copy
        logging.getLogger(__name__).info("loaded %d ImageNet parameters from %s", len(mapping),
                                         source)
    return net


# Luvizon et al. 2018, the soft-argmax multitask network (symbols/multitask/model.py):
# ``softargmax_pose``: the Human3.6M 3D pose model (K = 8, J = 17, Nd = 16);
# ``softargmax_multitask``: the NTU pose + action model (K = 4, J = 20, T = 20, 60 actions) with
# Appendix A's Nd = 16 (the cvpr18 NTU code uses 8: ``depth_bins=8``; docs/paper.md).
_MULTITASK_TINY = dict(input_size=64, num_joints=5, depth_bins=4, pose_blocks=2, width=0.125,
                       num_frames=4, num_actions=5, action_blocks=2,
                       pose_action_filters=(2, 4, 6, 8, 4, 8), appearance_action_filters=16)
MULTITASK = {
    "softargmax_pose": dict(parts="pose"),
    "softargmax_multitask": dict(parts="pose+action", pose_blocks=4, num_joints=20, depth_bins=16),
    "softargmax_pose_tiny": dict(_MULTITASK_TINY, parts="pose"),
    "softargmax_multitask_tiny": dict(_MULTITASK_TINY, parts="pose+action"),
}


def multitask_config(name, **overrides):
    """The ``MultitaskConfig`` of a named model with overrides; unknown names, keys: errors."""
    fields = _named_fields(MULTITASK, MultitaskConfig, name, overrides)
    fields["pose_action_filters"] = tuple(fields.get("pose_action_filters",
                                                     MultitaskConfig.pose_action_filters))
    return MultitaskConfig(**fields)


def get_multitask_model(name, pretrained=None, ctx=None, **overrides):
    """A named ``MultitaskNet``, initialized on ``ctx``, its config kept as ``net.config``."""
    if pretrained:
        raise ValueError(f"{name} has no pretrained weights; train it from scratch")
    config = multitask_config(name, **overrides)
    net = MultitaskNet(**config.network_kwargs())
    net.initialize(ctx=ctx or mx.cpu())
    net.config = config
    return net


FAMILIES = {"action_machine": ACTION_MACHINE, "pose": POSE, "multitask": MULTITASK,
            "detector": {name: {} for name in RFCN_DETECTORS},
            "published_pose": {published_pose.PREFIX + n: {} for n in published_pose.COCO_AP}}
MODELS = {name: family for family, table in FAMILIES.items() for name in table}


def register(family, name, **fields):
    """Add the model ``name`` to ``family`` (action_machine, pose or multitask) with the fields
    of that family's config (``ModelConfig``, ``PoseNet``'s keywords, ``MultitaskConfig``); the
    same as a line in the family's table above. A name already taken is a ValueError."""
    if family not in ("action_machine", "pose", "multitask"):
        raise ValueError(f"a model registers in family action_machine, pose or multitask, "
                         f"not {family!r}")
    if name in MODELS:
        raise ValueError(f"model name {name!r} is taken (family {MODELS[name]})")
    FAMILIES[family][name] = dict(fields)
    MODELS[name] = family
    try:
        if family == "action_machine":
            model_config(name)
        elif family == "multitask":
            multitask_config(name)
    except (TypeError, ValueError):
        del FAMILIES[family][name], MODELS[name]
        raise


def family_of(name):
    """The family of a model name; ``gluoncv:NAME`` names outside the table are GluonCV's zoo:
    a simple_pose model, or a detector. An unknown name is a ValueError listing the names."""
    if name in MODELS:
        return MODELS[name]
    if name.startswith(GLUONCV):
        return "published_pose" if name[len(GLUONCV):].startswith("simple_pose_") else "detector"
    raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)} or "
                     f"gluoncv:NAME (a GluonCV COCO detector or simple_pose model)")


def _one(ctx):
    """A context list or one context -> one context (detectors and labellers run on one)."""
    if isinstance(ctx, (list, tuple)):
        return ctx[0] if ctx else mx.cpu()
    return ctx or mx.cpu()


def names(family):
    """The model names of one family, in registry order."""
    return [n for n, f in MODELS.items() if f == family]
