"""Every shipped config of Luvizon et al.'s model runs the paper's protocol unless a ruling in
docs/paper.md says otherwise: no gradient clipping (Appendix B names none; the base files clip at
Action Machine's 2.0, so a lost override would pass unnoticed), joints outside a training crop
out of the coordinate loss (Sec. 5.2 sets their visibility to zero; the coordinates: the
documented ruling), test crops from the poses the model predicts in the estimated rows and from
the annotation in the annotated / Kinect rows, validation plateaus for the lr (Appendix B) and
the first action stage ended when validation stagnates, fine-tuning for 5 epochs at the final lr
/ 10, Nd = 16 at the paper's size (Appendix A). Each config is resolved as a script resolves it,
and the trainer the training loop builds from it is checked to clip nothing."""
import glob
import os

import mxnet as mx
import pytest
from mxnet import gluon

import engine.training.loop
import train_action
import train_pose
from engine.config import BASE, CONFIG_DIR, POSE_BASE, config_path, experiment_files, load_config
from engine.experiment import multitask_options
from engine.training.loop import make_trainer
from symbols import MODELS, multitask_config

POSE_FILES = sorted(glob.glob(os.path.join(CONFIG_DIR, "pose", "*.yaml")))
VIDEO_FILES = experiment_files()


def resolved(path, overrides=()):
    """(kind, config) of a shipped experiment file: kind "pose" or "video"."""
    if os.path.dirname(path).endswith("pose"):
        return "pose", load_config(path, overrides, base=POSE_BASE)
    return "video", load_config(path, overrides, base=BASE)


def softargmax_files():
    """Every experiment file whose model is Luvizon et al.'s (the multitask family)."""
    found = []
    for path in POSE_FILES + VIDEO_FILES:
        if path.endswith("base.yaml"):
            continue
        kind, cfg = resolved(path)
        if MODELS.get(cfg["model"]["name"]) == "multitask":
            found.append(os.path.relpath(path, CONFIG_DIR))
    return found


FILES = softargmax_files()


def row_of(cfg):
    """Which of Appendix B's runs a video config is: separate (pose frozen, its annotated /
    Kinect variant included), finetuned, or joint (Table 3's joint learning)."""
    t = cfg["train"]
    if t["stage"] == "pose_frozen":
        return "separate"
    return "finetuned" if t["init_lr_divisor"] is not None else "joint"


def departures(kind, cfg):
    """What in a resolved soft-argmax config departs from the paper's protocol (or the ruling
    docs/paper.md writes down) -> a list of lines, empty when it follows it."""
    d, t, m = cfg["data"], cfg["train"], cfg["model"]
    found = []

    def want(key, value, expected):
        if value != expected:
            found.append(f"{key} is {value!r}, the paper's is {expected!r}")

    want("train.clip_gradient", t["clip_gradient"], None)
    want("data.outside_joints", d["outside_joints"], "drop")
    model = multitask_config(m["name"], **(m["options"] if kind == "pose" else
                                           multitask_options(cfg)))
    if not m["name"].endswith("_tiny") and not model.context_maps:  # the 2D model has no depth
        want("model.options.depth_bins", model.depth_bins, 16)  # Appendix A
    if kind == "pose":
        for key, expected in (("optimizer", "rmsprop"), ("lr", 0.001), ("lr_schedule", "plateau"),
                              ("lr_factor", 0.2), ("wd", 0.0)):
            want(f"train.{key}", t[key], expected)
        if not d["val_share"] > 0:
            found.append("data.val_share is 0: the plateau needs validation images")
        return found
    annotated = m["options"].get("pose_input", "estimated") == "annotated"
    want("model.options.attention_maps", m["options"].get("attention_maps", "estimated"),
         "annotated" if annotated else "estimated")
    want("eval.clip_box", cfg["eval"]["clip_box"], "joints" if annotated else "predicted")
    for key, expected in (("optimizer", "nesterov"), ("momentum", 0.98), ("lr_factor", 0.2),
                          ("batch_size", 2), ("wd", 0.0)):
        want(f"train.{key}", t[key], expected)
    if row_of(cfg) == "finetuned":  # "divide the final learning rate by 10 ... for more 5 epochs"
        for key, expected in (("init_lr_divisor", 10), ("epochs", 5), ("lr_schedule", "step"),
                              ("lr_steps", [])):
            want(f"train.{key}", t[key], expected)
        return found
    want("train.lr", t["lr"], 0.0002)
    want("train.lr_schedule", t["lr_schedule"], "plateau")
    if not d["val_share"] > 0:
        found.append("data.val_share is 0: the plateau and the stop need validation videos")
    if t["stop_patience"] is None:
        found.append("train.stop_patience is null: the stage runs train.epochs instead of "
                     "ending when validation stagnates")
    return found


def test_every_soft_argmax_config_is_found():
    """The pose tables' and the toy pose configs, and every action row (separate, fine-tuned,
    annotated / Kinect, joint) on the benchmark, Penn Action and NTU."""
    assert len([f for f in FILES if f.startswith("pose")]) == 8
    assert len([f for f in FILES if not f.startswith("pose")]) == 10
    assert "softargmax/ntu/ntu_xsub_softargmax_kinect.yaml" in FILES


@pytest.mark.parametrize("name", FILES)
def test_the_shipped_config_follows_the_paper(name):
    kind, cfg = resolved(os.path.join(CONFIG_DIR, name))
    assert departures(kind, cfg) == []


@pytest.mark.parametrize("override, found", [
    ("train.clip_gradient=2.0", "train.clip_gradient is 2.0, the paper's is None"),
    ("data.outside_joints=keep", "data.outside_joints is 'keep'"),
    ("eval.clip_box=annotation", "eval.clip_box is 'annotation', the paper's is 'predicted'"),
    ("train.stop_patience=null", "train.stop_patience is null"),
    ("train.lr_schedule=step", "train.lr_schedule is 'step', the paper's is 'plateau'"),
    ("model.options.depth_bins=8", "model.options.depth_bins is 8, the paper's is 16"),
])
def test_a_config_that_departs_is_caught(override, found):
    """The check can fail: one shipped config with one setting changed."""
    kind, cfg = resolved(config_path("ntu_xsub_softargmax_separate"), [override])
    assert any(line.startswith(found) for line in departures(kind, cfg)), departures(kind, cfg)


@pytest.mark.parametrize("name", FILES)
def test_the_trainer_built_from_the_config_clips_nothing(name):
    """engine.training.loop.make_trainer, which the training loop calls, turns the config into an
    optimizer without clip_gradient; Action Machine's config into one clipping at 2.0."""
    kind, cfg = resolved(os.path.join(CONFIG_DIR, name))
    net = gluon.nn.Dense(2, in_units=3)
    net.initialize()
    assert make_trainer(net.collect_params(), cfg["train"], 1)._optimizer.clip_gradient is None
    _, am = resolved(config_path("synth_xview3_kps"))
    assert make_trainer(net.collect_params(), am["train"], 1)._optimizer.clip_gradient == 2.0


def test_the_training_runs_of_the_toy_rows_step_without_clipping(synth_work, tmp_path,
                                                                  monkeypatch):
    """The trainers that train_pose.py and train_action.py really build for the toy pose model
    and its first action stage (one epoch each) have no clip_gradient."""
    built = []

    def recording(*args, **kwargs):
        built.append(make_trainer(*args, **kwargs))
        return built[-1]
    monkeypatch.setattr(engine.training.loop, "make_trainer", recording)
    common = [f"data.prepared={synth_work}/prepared", f"runs={tmp_path}", "train.epochs=1"]
    pose = load_config(os.path.join(CONFIG_DIR, "pose", "synth_softargmax_tiny.yaml"),
                       common + ["train.batch_size=8"], base=POSE_BASE)
    final = train_pose.run(pose, [mx.cpu()])
    video = load_config(config_path("synth_xview3_softargmax_separate"),
                        common + [f"train.init_from={final}", "data.clip_len=4",
                                  "data.stride=2"])
    train_action.run(video, [mx.cpu()])
    assert len(built) == 2
    assert [t._optimizer.clip_gradient for t in built] == [None, None]
    assert [type(t._optimizer).__name__ for t in built] == ["RMSProp", "NAG"]
