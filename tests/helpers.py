"""Shared by the tests that train and evaluate on a tiny synthetic dataset."""
import errno
import json
import os

import mxnet as mx
import numpy as np
import pytest

import detect_persons
from data import synth
from data.index import read_annotation, read_index, write_poses
from data.prepare import prepare
from engine.config import config_path
from engine.inference import hardware

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
POSE_TINY = os.path.join(ROOT, "configs", "pose", "synth_tiny.yaml")
SEPARATE = config_path("synth_xview3_softargmax_separate")
FINETUNED = config_path("synth_xview3_softargmax_finetuned")
SOFTARGMAX_POSE = os.path.join(ROOT, "configs", "pose", "synth_softargmax_tiny.yaml")
# bfloat16 runs on AVX-512 CPUs only (hardware.py); elsewhere its tests are skipped with the reason.
needs_bfloat16 = pytest.mark.skipif(hardware.bfloat16_missing() is not None,
                                    reason=f"{hardware.bfloat16_missing()} "
                                           f"({hardware.cpu_model()})")


def make_synth_work(root):
    """20 tiny synthetic videos, prepared, with ground-truth boxes and poses -> ``root``."""
    raw, prepared = os.path.join(root, "raw"), os.path.join(root, "prepared")
    synth.generate(raw, subjects=1, repetitions=1, frames=12, progress=False)
    prepare("synth", raw, prepared, workers=1, progress=False)
    detect_persons.run(prepared, os.path.join(root, "boxes.json"), "synth", progress=False)
    for s in read_index(prepared):
        kps, _ = read_annotation(os.path.join(prepared, "annotations", s["id"] + ".npz"))
        write_poses(os.path.join(root, "poses"), s["id"], kps)
    return root


def overrides(work, out, *extra):
    """A 2-epoch run of 4-frame clips on ``work``'s data, writing to ``out``."""
    return [f"data.prepared={work}/prepared", f"data.boxes={work}/boxes.json",
            f"data.poses={work}/poses", f"out={out}", "data.workers=0", "data.clip_len=4",
            "train.batch_size=4", "train.epochs=2", "train.lr_steps=[1]", "eval.num_clips=2",
            "model.pretrained=null", *extra]


def config(row):
    return config_path(f"synth_xview3_{row}")


def params_of(path):
    return {k: v.asnumpy() for k, v in mx.nd.load(path).items()}


def nan_pose_checkpoint(path):
    """The tiny pose model with every parameter NaN, saved as a checkpoint with its config beside
    it (as training writes final.params + final.yaml): a diverged run."""
    from engine.config import POSE_BASE, load_config, save_config
    from engine.systems import build_pose_model
    cfg = load_config(POSE_TINY, base=POSE_BASE)
    save_config(cfg, os.path.splitext(path)[0] + ".yaml")
    net = build_pose_model(cfg, [mx.cpu()])
    net(mx.nd.zeros((1, 3, 128, 96)))  # finish deferred shape inference
    for p in net.collect_params().values():
        p.set_data(mx.nd.full(p.shape, np.nan))
    net.save_parameters(path)
    return path


def fill_the_disk(monkeypatch):
    """From now on every write to a file fails as on a full disk (stdout and stderr still work)."""
    real_write = os.write

    def full(fd, data):
        if fd <= 2:
            return real_write(fd, data)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(os, "write", full)


def video_config(path, work, runs, *extra):
    """One short epoch of the tiny multitask model on the fixture's 12-frame videos."""
    from engine.config import load_config
    return load_config(path, [f"data.prepared={work}/prepared", f"runs={runs}",
                              "train.epochs=1", "data.clip_len=4", "data.stride=2", *extra])


def tiny_softargmax_pose(work, out):
    """The tiny soft-argmax pose model after one epoch (a multitask stage 1's pose part) -> its
    final.params."""
    import train_pose
    from engine.config import POSE_BASE, load_config
    cfg = load_config(SOFTARGMAX_POSE, [f"data.prepared={work}/prepared", f"out={out}",
                                        "train.epochs=1", "train.batch_size=8",
                                        "data.val_share=0.0", "train.lr_schedule=step"],
                      base=POSE_BASE)
    return train_pose.run(cfg, [mx.cpu()])


def epoch_lines(out):
    """The epoch lines of a run's metrics.jsonl."""
    with open(os.path.join(out, "metrics.jsonl")) as f:
        return [json.loads(line) for line in f if '"kind": "epoch"' in line]
