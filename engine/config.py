"""The project's configs: common/config.py's loader with the checks that need the project (the
dataset names and the dataset's protocols, from data/registry.py; the stage-2 rule below).
Scripts and the engine load configs here.

Dataset names: data.dataset is a video dataset of the registry, data.source one of its pose
sources or mix, data.test_source (and each of data.mix) a records source. An old name (``penn``
for penn_action) is replaced by the current one before the checks, with a notice on stderr.

Stage 2 is one setting: the keys that must agree with ``train.stage`` are derived from it or
checked together with it, once, when a config is loaded.

Paper Sec. 4.6, "KPS PoseAction RGBAction": the KPS RGBAction model is used as the pre-trained
model, fixed, and only the pose CNN trains. So ``train.stage: pose_cnn`` needs the pose CNN
('pose' in the heads), the trained KPS RGBAction model (``train.init_from``), and batch norm on
running statistics at least in the frozen part (``model.global_stats``, derived when null).
"""
import glob
import os

from common.config_keys import CHOICES as COMMON_CHOICES
from common.config_keys import RANGES, ConfigError
from common.config import (
    BASE,
    CONFIG_DIR,
    POSE_BASE,
    add_config_args,
    config_path,
    flatten,
    or_exit,
    parse_override,
    save_config,
)
from common.config import load_config as load_layers
from data import registry

__all__ = ["BASE", "CHOICES", "CONFIG_DIR", "POSE_BASE", "RANGES", "SYSTEMS", "ConfigError",
           "add_config_args", "config_path", "experiment_files", "flatten", "load_config",
           "load_config_or_exit", "parse_override", "save_config", "derive"]
# configs/ holds base.yaml, the layers experiment files name in their bases (rows/, datasets/),
# the pose model's configs (pose/, on pose/base.yaml), the cross-dataset label mappings
# (cross_dataset/), and each system's experiment files: configs/<system>/<dataset>/<name>.yaml.
SYSTEMS = ("action_machine", "softargmax")


def experiment_files():
    """Every video experiment file (configs/<system>/<dataset>/<name>.yaml), sorted."""
    return sorted(f for system in SYSTEMS for f in glob.glob(
        os.path.join(CONFIG_DIR, system, "**", "*.yaml"), recursive=True))


def dataset_choices():
    """The keys whose values are dataset names, and the registry's names for each (read at each
    load: a dataset registered at run time counts). data.mix, a list, is checked by its reader."""
    return {"data.dataset": registry.names("video"),
            "data.source": registry.names("source") + (registry.MIX,),  # pose configs
            "data.test_source": registry.names("reader")}  # pose configs


CHOICES = {**COMMON_CHOICES, **dataset_choices()}  # the registry's entries in ENTRIES


def current_names(cfg):
    """Put the registry's current name for an old dataset name in place (its notice, once)."""
    d = cfg.get("data")
    if not isinstance(d, dict):
        return
    for key in ("dataset", "source", "test_source"):
        if isinstance(d.get(key), str):
            d[key] = registry.canonical(d[key])
    if isinstance(d.get("mix"), list):
        d["mix"] = [registry.canonical(s) if isinstance(s, str) else s for s in d["mix"]]


def protocols_of(name):
    """The protocols of a video dataset (config data.protocol's choices)."""
    return registry.dataset(name, "video").adapter().PROTOCOLS


def load_config(path, overrides=(), base=BASE):
    """The resolved and checked config (nested dicts) of an experiment file plus overrides."""
    return load_layers(path, overrides, base, protocols_of=protocols_of, derive=derive,
                       choices=dataset_choices(), rename=current_names)


def load_config_or_exit(path, overrides=(), base=BASE):
    """``load_config`` for a script's main: a bad config ends the run with its one-line error."""
    return or_exit(load_config, path, overrides, base)


def derive(cfg, error):
    """Fill the derived keys of a video config in place; ``error(message)`` raises."""
    if "stage" not in cfg.get("train", {}):  # pose configs
        return cfg
    from symbols import model_config
    t, m = cfg["train"], cfg["model"]
    stage2 = t["stage"] == "pose_cnn"
    if m["global_stats"] is None:
        m["global_stats"] = "backbone" if stage2 else "none"
    if stage2:  # every weight comes from train.init_from (the pose CNN starts fresh)
        m["pretrained"] = None
    if not stage2:
        if t["pose_cnn_init"]:
            error("train.pose_cnn_init initialises the pose CNN of stage 2: it needs "
                  "train.stage=pose_cnn")
        if t.get("pose_cnn_draws"):
            error("train.pose_cnn_draws keeps the frozen model's keypoints of stage 2: it needs "
                  "train.stage=pose_cnn")
        return cfg
    try:
        heads = model_config(m["name"], **m["options"]).heads
    except (TypeError, ValueError) as err:
        error(f"model.options: {err}")
    if "pose" not in heads:
        error(f"train.stage is pose_cnn but the model's heads are {list(heads)}: stage 2 trains "
              f"the pose CNN, add 'pose' (model.options.heads=[rgb, kps, pose])")
    if m["global_stats"] == "none":
        error("train.stage is pose_cnn but model.global_stats is none: the frozen model's batch "
              "norm would keep updating its statistics; use backbone (or all), or leave it null")
    if not t["init_from"]:
        error("train.stage is pose_cnn but train.init_from is null: stage 2 starts from a trained "
              "KPS RGBAction model (runs/<dataset>_<protocol>_kps/final.params)")
    return cfg
