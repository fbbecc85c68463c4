"""Experiment configs: one mechanism, three layers.

``configs/base.yaml`` holds every key with its default and says what it means. An experiment file
(``configs/nucla_xview1_kps.yaml``; its name is the experiment) lists ``bases`` (merged in order,
paths relative to this folder) and holds only what differs. ``key=value`` overrides (dotted keys,
YAML values) come last. An unknown key, a value of the wrong type or outside its choices is a
one-line ConfigError naming it and what is valid. ``{dataset}``, ``{protocol}`` and
``{experiment}`` in string values are filled in once everything is merged.
"""
import copy
import difflib
import os
import re

import yaml

CONFIG_DIR = os.path.dirname(os.path.abspath(__file__))
BASE = os.path.join(CONFIG_DIR, "base.yaml")  # the video model's experiments
POSE_BASE = os.path.join(CONFIG_DIR, "pose", "base.yaml")  # the COCO pose model's
# Keys whose values come from a fixed set (the dataset's protocols are checked separately).
CHOICES = {
    "data.dataset": ("ntu", "nucla", "msr", "utd", "synth"),
    "data.crop": ("person", "frame"),
    "data.backend": ("cv2", "decord"),
    "model.global_stats": ("none", "backbone", "all"),
    "train.stage": ("joint", "pose_cnn"),
    "train.heatmap_loss": ("smooth_l1", "logistic"),
}
FREE_FORM = ("model.options",)  # dicts checked by their consumer (symbols.model_config)


_SCIENTIFIC = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")


class ConfigError(ValueError):
    pass


def _read(path):
    with open(path) as f:
        return yaml.safe_load(f) or {}


def _merge(into, update, prefix=""):
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value, f"{prefix}{key}.")
        else:
            into[key] = copy.deepcopy(value)
    return into


def flatten(cfg, prefix=""):
    out = {}
    for key, value in cfg.items():
        if isinstance(value, dict) and f"{prefix}{key}" not in FREE_FORM:
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _load_layers(path, seen=()):
    if not os.path.isfile(path):
        raise ConfigError(f"config file not found: {path}")
    if path in seen:
        raise ConfigError(f"config bases loop through {path}")
    layer = _read(path)
    merged = {}
    for base in layer.pop("bases", []):
        _merge(merged, _load_layers(os.path.join(CONFIG_DIR, base), seen + (path,)))
    return _merge(merged, layer)


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


def parse_override(text):
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise ConfigError(f"override {text!r} is not key=value")
    parsed = yaml.safe_load(value) if value.strip() else None
    if isinstance(parsed, str) and _SCIENTIFIC.match(parsed):
        parsed = float(parsed)  # YAML 1.1 reads 1e-4 (no dot) as a string
    return key.strip(), parsed


def validate(cfg, base=BASE):
    defaults = flatten(_read(base))
    for key, value in flatten(cfg).items():
        if key not in defaults:
            close = difflib.get_close_matches(key, list(defaults), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"unknown config key {key!r}{hint}; valid keys: "
                              f"{', '.join(sorted(defaults))}")
        _check_type(key, value, defaults[key])
        if key in CHOICES and value not in CHOICES[key]:
            raise ConfigError(f"config key {key!r} is {value!r}; choose one of "
                              f"{', '.join(CHOICES[key])}")
    if "protocol" not in cfg.get("data", {}):
        return
    from data.protocols import get_dataset
    protocols = get_dataset(cfg["data"]["dataset"]).PROTOCOLS
    if cfg["data"]["protocol"] not in protocols:
        raise ConfigError(f"config key 'data.protocol' is {cfg['data']['protocol']!r}; "
                          f"{cfg['data']['dataset']} has {', '.join(protocols)}")


def _fill(value, names):
    if isinstance(value, str):
        return value.format(**names)
    if isinstance(value, dict):
        return {k: _fill(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, names) for v in value]
    return value


def load_config(path, overrides=(), base=BASE):
    """The resolved config (nested dicts) of an experiment file plus overrides."""
    cfg = _merge(_read(base), _load_layers(os.path.abspath(path)))
    if cfg.get("experiment") is None:
        cfg["experiment"] = os.path.splitext(os.path.basename(path))[0]
    for text in overrides:
        key, value = parse_override(text)
        node, parts = cfg, key.split(".")
        for part in parts[:-1]:
            if not isinstance(node.get(part), dict):
                raise ConfigError(f"unknown config key {key!r}")
            node = node[part]
        node[parts[-1]] = value  # an unknown key is caught by validate() below
    validate(cfg, base)
    names = dict(dataset=cfg["data"].get("dataset"), protocol=cfg["data"].get("protocol"),
                 experiment=cfg["experiment"])
    return _fill(cfg, names)


def add_config_args(parser, required=True, cpus=True):
    """The arguments every config-driven script shares: --config, key=value overrides, devices."""
    parser.add_argument("--config", required=required, help="an experiment config file")
    parser.add_argument("overrides", nargs="*", help="config overrides, key=value")
    parser.add_argument("--gpus", help="GPU ids, e.g. 0,1,2,3")
    if cpus:
        parser.add_argument("--cpus", type=int,
                            help="N CPU contexts (the multi-device path on CPU)")


def load_config_or_exit(path, overrides=(), base=BASE):
    """``load_config`` for a script's main: a bad config ends the run with its one-line error."""
    try:
        return load_config(path, overrides, base)
    except ConfigError as err:
        raise SystemExit(f"error: {err}") from None


def save_config(cfg, path):
    from data.index import atomic_write_text
    atomic_write_text(path, yaml.safe_dump(cfg, sort_keys=False))
