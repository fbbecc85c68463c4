"""What each config key may hold: the fixed sets (CHOICES), the numeric ranges (RANGES, written
as the error message says them), the type of its default, and ``check_value``, which checks one
key's value against them with a one-line ConfigError (common/config.py runs it on every key)."""
import math
import re


# Keys whose values come from a fixed set. The project adds the dataset names (data.dataset,
# data.source, data.test_source: engine/config.py, from data/registry.py); the dataset's
# protocols are checked separately.
CHOICES = {
    "data.crop": ("person", "frame"),
    "data.backend": ("cv2", "decord"),
    "model.global_stats": ("none", "backbone", "all"),
    "train.stage": ("joint", "pose_cnn", "pose_frozen", "end_to_end"),  # the last two: multitask
    "train.heatmap_loss": ("smooth_l1", "logistic"),
    "train.pose_loss_frames": ("mean", "sum"),
    "eval.cross_dataset_argmax": ("restricted", "all"),
    "data.layout": ("pa16", "pa17", "pa20"),  # pose configs: data/joints.py LAYOUTS
    "train.optimizer": ("sgd", "nesterov", "rmsprop"),
    "train.lr_schedule": ("step", "cosine", "plateau"),  # plateau: pose, multitask video configs
    "eval.dtype": ("float32", "int8", "bfloat16", "float16"),  # common.cli.DTYPES
    "eval.int8_calibration": ("naive", "entropy"),
    "train.amp": ("float32", "bfloat16", "float16"),
    "train.kvstore": ("local", "device", "dist_sync", "dist_device_sync"),  # null: by devices
    "eval.multitask_clips": ("single", "multi"),  # multitask models' test clips (Sec. 4.3)
    "data.outside_joints": ("drop", "keep"),  # soft-argmax targets (data/multitask/pose_frames)
    "eval.clip_box": ("predicted", "annotation", "joints"),  # multitask test crop (Sec. 5.2)
}
# Every numeric key of base.yaml and pose/base.yaml (tests/test_configs.py checks that none is
# missing). The text is the error message's and is read by _range_check: "a"/"an" one value,
# "N ..." a list of N, "a list of ..." any length; integer or number (always finite); ">= x",
# "> x" or "in [lo, hi)"; then optionally "a multiple of n".
RANGES = {
    "data.clip_len": "an integer >= 1",
    "data.stride": "null or an integer >= 1",  # null: the dataset's own stride
    "data.size": "an integer >= 32, a multiple of 32",  # the backbone halves the input 5 times
    "data.jitter_center": "a number in [0, 1)",  # fractions of the box; 1 could leave it empty
    "data.jitter_size": "a number in [0, 1)",
    "data.workers": "an integer >= 0",
    "data.input_size": "2 integers >= 32, each a multiple of 32",  # pose (width, height), as size
    "data.scale": "a number in [0, 1)",  # the crop is scaled by 1 +- scale, so 1 could be empty
    "data.rotation": "a number in [0, 180]",  # +- degrees
    "train.max_unreadable": "a number in [0, 1]",  # a share of an epoch's samples
    "data.pose_min_confidence": "a number in [0, 1]",  # visibility 0/1/2 or a probability
    "data.crop_aspect": "a finite number > 0",  # height : width
    "data.aspect": "a finite number > 0",  # pose: height : width
    "data.random_crop_scale": "2 numbers in (0, 1]",  # (low, high) share of the short side
    "data.rotation_prob": "a number in [0, 1]",
    "data.radius": "null or a finite number > 0",  # pose: input pixels
    "train.pose_loss_weights": "2 finite numbers >= 0",  # Eq. (5): heatmap, offset
    "eval.test_crop_scale": "a number in [1, 4]",  # 1: three identical crops
    "train.epochs": "an integer >= 1",
    "train.pose_cnn_draws": "null or an integer >= 1",  # epochs of clips kept
    "train.lr": "a finite number > 0",
    "train.lr_steps": "a list of integers >= 0",  # epochs
    "train.lr_factor": "a number in (0, 1]",
    "train.warmup_epochs": "a finite number >= 0",  # linear warm-up (step, cosine schedules)
    "train.momentum": "a number in [0, 1)",
    "train.wd": "a finite number >= 0",
    "train.clip_gradient": "null or a finite number > 0",  # null: no clipping
    "train.batch_size": "an integer >= 1",
    "train.loss_weights": "3 finite numbers >= 0",  # Eq. (8): RGB action, pose, pose action
    "train.seed": "an integer in [0, 4294967295]",  # NumPy's RandomState takes 32-bit seeds
    "train.log_interval": "an integer >= 1",
    "eval.num_clips": "an integer >= 1",
    "eval.int8_calibration_clips": "an integer >= 1",
    "eval.int8_tolerance": "a finite number >= 0",  # points of top-1
    "eval.int8_check_clips": "an integer >= 1",
    "eval.views_per_batch": "an integer >= 1",
    "eval.batch_size": "an integer >= 1",
    # pose configs, data.source synth (data/multitask/pose_frames.py)
    "data.frame_step": "an integer >= 1",
    "data.crop_margin": "a number in [0, 4]",  # share of the box's longer side added
    "data.translation": "a number in [0, 1)",  # share of the crop's side
    "data.depth_range_mm": "a finite number > 0",
    "data.val_share": "a number in [0, 1)",  # share of the train split's performances
    "train.lr_patience": "an integer >= 1",  # epochs
    "train.stop_patience": "null or an integer >= 1",  # epochs; null: train.epochs
    "train.init_lr_divisor": "null or a number > 0",  # multitask end_to_end: final lr / this
    "train.visibility_weight": "a finite number >= 0",
    "data.mix_ratios": "a list of finite numbers > 0",  # shares of each batch (data.mix)
    "eval.crop_shift": "a number in [0, 1)",  # share of the crop's side
    "eval.crops": "an integer in [1, 5]",  # 1 or 5 (engine/pose_experiment.py: check_pose_keys)
    "train.kvstore_timeout": "a finite number > 0",  # seconds
    # video configs, multitask models (data/multitask/clips.py, symbols/multitask/loss.py)
    "data.subsample": "2 integers >= 1",  # (low, high) frame step of training clips
    "train.multitask_loss_weights": "2 finite numbers >= 0",  # each action block, aggregation
    "train.multitask_pose_weight": "a finite number >= 0",
}
FREE_FORM = ("model.options",)  # dicts checked by their consumer (symbols.model_config)


SCIENTIFIC = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")
_NON_FINITE = re.compile(r"^[-+]?(nan|inf|infinity)$", re.IGNORECASE)
_RANGE_FORM = re.compile(r"""
    (?P<null>null\ or\ )?
    (?:(?P<list>a\ list\ of\ )|(?P<count>\d+)\ |an?\ )
    (?:finite\ )?(?P<kind>integer|number)s?[ ]
    (?:(?P<op>>=|>)\ (?P<min>[-\d.]+)
      |in\ (?P<left>[\[(])(?P<lo>[-\d.]+),\ (?P<hi>[-\d.]+)(?P<right>[\])]))
    (?:,\ (?:each\ )?a\ multiple\ of\ (?P<step>\d+))?""", re.VERBOSE)


class ConfigError(ValueError):
    pass


def _range_check(text):
    """RANGES' text -> a function telling whether a value is in that range."""
    m = _RANGE_FORM.fullmatch(text)
    if m is None:
        raise ValueError(f"common/config_keys.py RANGES: cannot read {text!r}")
    if m["op"]:
        lo, hi, lo_open, hi_open = float(m["min"]), math.inf, m["op"] == ">", True
    else:
        lo, hi = float(m["lo"]), float(m["hi"])
        lo_open, hi_open = m["left"] == "(", m["right"] == ")"
    kind = int if m["kind"] == "integer" else (int, float)
    step = int(m["step"] or 1)

    def number_ok(v):
        return (isinstance(v, kind) and not isinstance(v, bool) and math.isfinite(v)
                and (lo < v if lo_open else lo <= v) and (v < hi if hi_open else v <= hi)
                and (kind is not int or v % step == 0))

    def ok(value):
        if value is None:
            return bool(m["null"])
        if m["list"] or m["count"]:
            return (isinstance(value, list) and all(number_ok(v) for v in value)
                    and (m["list"] or len(value) == int(m["count"])))
        return number_ok(value)
    return ok


_IN_RANGE = {key: _range_check(text) for key, text in RANGES.items()}


def _check_type(key, value, default):
    if default is None or value is None:
        return
    ok = {bool: lambda v: isinstance(v, bool),
          int: lambda v: isinstance(v, int) and not isinstance(v, bool),
          float: lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
          str: lambda v: isinstance(v, str),
          list: lambda v: isinstance(v, list),
          dict: lambda v: isinstance(v, dict)}[type(default)]
    if not ok(value):
        raise ConfigError(f"config key {key!r} takes a {type(default).__name__} "
                          f"(default {default!r}), got {value!r}")


def check_value(key, value, default, choices=CHOICES):
    """One key's value against the type of its ``default``, ``choices`` and RANGES."""
    if key in RANGES and isinstance(value, str) and _NON_FINITE.match(value):
        value = float(value)  # YAML 1.1 reads nan and inf (no dot) as strings
    _check_type(key, value, default)
    if key in choices and value not in choices[key] and not (value is None and default is None):
        raise ConfigError(f"config key {key!r} is {value!r}; choose one of "
                          f"{', '.join(choices[key])}")
    if key in RANGES and not _IN_RANGE[key](value):
        raise ConfigError(f"config key {key!r} is {value!r}; it must be {RANGES[key]}")
