"""From a resolved config to the objects of a run: devices, samples, datasets, the model.

The scripts (train_action.py, eval_action.py) own logging, devices and seeds; this module is the
one place that reads config keys to build things, so a key means the same in every script.
"""
import logging
import os
import sys

import mxnet as mx

from data.index import read_boxes, read_index, read_splits
from data.loader import ClipDataset
from data.protocols import get_dataset
from symbols import get_model, model_config


def contexts(gpus=None, cpus=None):
    """--gpus 0,1,2,3 -> [gpu(0), ...]; --cpus N -> [cpu(0), ..., cpu(N-1)]; default [cpu(0)]."""
    if gpus:
        return [mx.gpu(int(i)) for i in str(gpus).split(",") if i.strip()]
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


def split_samples(cfg, split):
    """The samples of ``split`` ('train' or 'test') of the config's protocol."""
    prepared = cfg["data"]["prepared"]
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


def clip_dataset(cfg, samples, mode, with_poses):
    d = cfg["data"]
    dataset = get_dataset(d["dataset"])
    boxes = read_boxes(d["boxes"])[0] if d["crop"] == "person" else None
    return ClipDataset(
        d["prepared"], samples, boxes=boxes, mode=mode, crop=d["crop"],
        poses_dir=d["poses"] if with_poses else None, clip_len=d["clip_len"],
        stride=d["stride"] or dataset.STRIDE, size=d["size"], heatmap_stride=heatmap_stride(cfg),
        jitter=(d["jitter_center"], d["jitter_size"]), mirror=d["mirror"],
        num_clips=cfg["eval"]["num_clips"], seed=cfg["train"]["seed"], backend=d["backend"])


def model_options(cfg, num_devices=1):
    m = cfg["model"]
    options = dict(m["options"], input_size=cfg["data"]["size"],
                   num_frames=cfg["data"]["clip_len"], global_stats=m["global_stats"])
    if m["sync_bn"]:
        options["sync_devices"] = num_devices
    return options


def build_model(cfg, ctx):
    """The config's model on ``ctx`` (a list of contexts), with its initial weights."""
    m = cfg["model"]
    return get_model(m["name"], pretrained=m["pretrained"], ctx=ctx,
                     **model_options(cfg, len(ctx)))


def load_weights(net, path, ctx, log=None):
    """Load a checkpoint by name. Parameters it lacks (a new pose CNN) keep their init; ones whose
    shape differs (another dataset's classifier) are skipped; both are logged."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint not found: {path}")
    saved = mx.nd.load(path)
    params = net._collect_params_with_prefix()
    loaded, kept, skipped = 0, [], []
    for name, param in params.items():
        if name not in saved:
            kept.append(name)
        elif saved[name].shape != param.shape:
            skipped.append(f"{name} {saved[name].shape} -> {param.shape}")
        else:
            param.set_data(saved[name].as_in_context(mx.cpu()))
            loaded += 1
    extra = [k for k in saved if k not in params]
    if log:
        log.info("loaded %d parameters from %s; %d kept their init, %d shape-skipped, %d unused",
                 loaded, path, len(kept), len(skipped), len(extra))
        for row in skipped:
            log.info("  skipped %s", row)
    if loaded == 0:
        raise ValueError(f"{path} shares no parameter with the model")
    return loaded, kept, skipped
