"""Luvizon et al.'s Figures 7 and 8 from their commands (tools/figure7.py, tools/figure8.py):
Figure 7's 3D poses are eval_pose.py's predictions for the same frames, root-aligned, beside the
ground truth; Figure 8 reads any multitask results.json; bad input is one line."""
import json
import logging
import os
import subprocess
import sys

import mxnet as mx
import numpy as np
import pytest

import eval_pose
import train_pose
from engine.config import POSE_BASE, load_config
from data.index import read_annotation_3d
from data.joints import PA16, PA20, bones
from data.keypoints import COCO_KEYPOINTS
from data.multitask import pose_frames as PF
from engine.views.figures import COCO_SKELETON
from helpers import ROOT
from tools import diagnose_mpjpe, figure7, figure8

TINY = os.path.join(ROOT, "configs", "pose", "synth_softargmax_tiny.yaml")


def results(experiment, pose, appearance, aggregation, clips="single"):
    """A multitask results.json's fields that Figure 8 reads."""
    return dict(experiment=experiment, clips=clips, top1=dict(
        pose=pose[-1], appearance=appearance[-1], aggregation=aggregation),
        top1_blocks=dict(pose=pose, appearance=appearance))


def test_bones_by_name_give_coco_its_own_skeleton_and_join_the_pa_layouts():
    as_sets = {frozenset(b) for b in bones(COCO_KEYPOINTS)}
    assert as_sets == {frozenset(b) for b in COCO_SKELETON}
    named = {frozenset((PA16[a], PA16[b])) for a, b in bones(PA16)}
    assert {"pelvis", "thorax"} in [set(b) for b in named] and len(named) == 15
    assert {frozenset((PA20[a], PA20[b])) for a, b in bones(PA20)} >= {
        frozenset(("left_wrist", "left_hand")), frozenset(("right_ankle", "right_foot"))}


def test_figure8_draws_any_two_results_files(tmp_path):
    paths = []
    for name, values in (("separate", (0.3, 0.4, 0.45)), ("finetuned", (0.5, 0.6, 0.65))):
        path = tmp_path / name / "results.json"
        path.parent.mkdir()
        path.write_text(json.dumps(results(name, list(values[:2]), list(values[:2]),
                                           values[2])))
        paths.append(str(path))
    out = str(tmp_path / "figs" / "figure8.png")
    figure8.main(["--run", f"separate={paths[0]}", "--run", paths[1], "--out", out])
    assert os.path.getsize(out) > 5000
    assert figure8.read_run(paths[1])[0] == "finetuned"  # labelled by its experiment
    assert figure8.read_run(f"a=b={paths[0]}")[0] == "a=b"


@pytest.mark.parametrize("content, message", [
    (None, "cannot read"), ("{", "is not JSON"),
    (json.dumps({"top1": {"rgb": 0.5}}), "not the results of a multitask model")])
def test_figure8_refuses_a_file_it_cannot_draw_with_one_line(tmp_path, content, message):
    path = tmp_path / "results.json"
    if content is not None:
        path.write_text(content)
    run = subprocess.run([sys.executable, "-m", "tools.figure8", "--run", str(path), "--out",
                          str(tmp_path / "f.png")], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 1 and run.stderr.count("\n") == 1, run.stderr
    assert run.stderr.startswith("error: --run ") and message in run.stderr
    assert not os.path.exists(tmp_path / "f.png")


def test_figure7_draws_eval_pose_s_predictions_beside_the_truth(synth_work, tmp_path):
    """The 3D poses drawn are eval_pose.py's single-crop predictions of those frames (camera
    mm), pelvis at the origin, the ground truth likewise; the 2D pose is that prediction in the
    crop's pixels."""
    out = str(tmp_path / "run")
    overrides = [f"data.prepared={synth_work}/prepared", f"out={out}", "train.epochs=1",
                 "train.batch_size=8", "data.val_share=0.0", "train.lr_schedule=step",
                 "eval.flip=false"]
    cfg = load_config(TINY, overrides, base=POSE_BASE)
    train_pose.run(cfg, [mx.cpu()])
    log = logging.getLogger("test")
    eval_pose.run(cfg, mx.cpu(), log)
    xyz = np.load(os.path.join(out, "pose_pred_3d.npy"))
    with open(os.path.join(out, "pose_pred_frames.json")) as f:
        frames = json.load(f)
    png = str(tmp_path / "figure7.png")
    path, rows = figure7.figure(cfg, mx.cpu(), log, png, frames=3)
    assert path == png and os.path.getsize(png) > 5000
    picked = figure7.chosen(len(frames), frames=3)  # first, middle, last (checked below)
    assert [r[0] for r in rows] == [f"{frames[i][0]} frame {frames[i][1]}" for i in picked]
    for (label, crop, uv, pose, truth), i in zip(rows, picked, strict=True):
        assert crop.shape == (64, 64, 3) and crop.dtype == np.uint8
        np.testing.assert_allclose(pose, xyz[i] - xyz[i][list(PF.HIPS)].mean(0), atol=1e-3)
        sample, t = frames[i]  # the truth by hand: the annotation's camera joints
        joints = read_annotation_3d(f"{synth_work}/prepared/annotations/{sample}.npz")[
            "joints_3d"][t]
        np.testing.assert_allclose(truth, joints - joints[list(PF.HIPS)].mean(0), atol=1e-3)
        assert np.abs(pose - truth).max() > 1.0  # a 1-epoch model: not the truth itself


def test_figure7_items_must_index_the_test_set():
    assert figure7.chosen(10, frames=4) == [0, 3, 6, 9]
    assert figure7.chosen(2, frames=4) == [0, 1]
    assert figure7.chosen(10, items=[9, 0]) == [9, 0]
    with pytest.raises(ValueError, match="--items: 10 is not an index of the 10 test items"):
        figure7.chosen(10, items=[3, 10])


def test_the_mpjpe_diagnosis_scores_the_truth_at_zero_and_the_model_as_eval_pose(synth_work,
                                                                              tmp_path):
    """tools.diagnose_mpjpe: the ground truth written as the network's output scores ~0 mm
    through the metric; its "model" row is eval_pose.py's MPJPE; the depth facts are the
    annotation's, by hand."""
    out = str(tmp_path / "run")
    cfg = load_config(TINY, [f"data.prepared={synth_work}/prepared", f"out={out}",
                             "train.epochs=1", "train.batch_size=8", "data.val_share=0.0",
                             "train.lr_schedule=step"], base=POSE_BASE)
    train_pose.run(cfg, [mx.cpu()])
    log = logging.getLogger("test")
    scored = eval_pose.run(cfg, mx.cpu(), log)
    result = diagnose_mpjpe.diagnose(cfg, mx.cpu(), log)
    assert result["mpjpe"]["truth through the metric"] < 0.01
    assert result["mpjpe"]["model"] == pytest.approx(scored["mean"]["MPJPE"], rel=1e-6)
    with open(os.path.join(out, "pose_pred_frames.json")) as f:
        frames = json.load(f)
    relative = []
    for sample, t in frames:
        joints = read_annotation_3d(f"{synth_work}/prepared/annotations/{sample}.npz")[
            "joints_3d"][t]
        relative.append(joints[:, 2] - joints[[11, 12], 2].mean())  # COCO hips 11, 12
    assert result["mean_abs_relative_depth_mm"] == pytest.approx(np.abs(relative).mean(),
                                                                 rel=1e-5)
    assert result["depth_bin_spacing_mm"] == pytest.approx(2000 / 3)  # the tiny model's Nd 4
    assert result["mpjpe"]["true 2D, depth flat (pelvis)"] > 10 * \
        result["mpjpe"]["truth through the metric"]
