"""train_pose.py and eval_pose.py --config with the soft-argmax model on a tiny synthetic set:
the run's outputs, the scores against an independent computation on the written predictions,
kill and resume under the plateau schedule, and bad inputs as one line."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from test_pose_frames import copy_without_3d
from test_train_eval import kill_during_epoch

import eval_pose
import train_pose
from engine.training import checkpoints, loop as training, lr_schedule
from helpers import ROOT, params_of

TINY = os.path.join(ROOT, "configs", "pose", "synth_softargmax_tiny.yaml")
PAPER = os.path.join(ROOT, "configs", "pose", "synth_softargmax.yaml")
HIPS = (11, 12)


def args(work, out, *extra, config=TINY):
    """2 epochs of 64-px crops of every 6th frame (32 training frames, 8 validation frames of
    2 held-out performances, 20 test frames)."""
    return ["--config", config, f"data.prepared={work}/prepared", f"out={out}",
            "data.workers=0", "data.input_size=[64, 64]", "data.frame_step=6",
            "data.val_share=0.2", "train.batch_size=8", "train.epochs=2", "eval.batch_size=8",
            *extra]


def epochs_of(out):
    with open(os.path.join(out, "metrics.jsonl")) as f:
        return [json.loads(l) for l in f if '"kind": "epoch"' in l]


def independent_scores(work, out, tag=""):
    """PCK@0.1/0.2 (of the box's longer side) and pelvis-aligned MPJPE of the written
    predictions, from the annotation files read directly."""
    uv = np.load(os.path.join(out, f"pose_pred{tag}_2d.npy"))
    xyz = np.load(os.path.join(out, f"pose_pred{tag}_3d.npy"))
    with open(os.path.join(out, f"pose_pred{tag}_frames.json")) as f:
        rows = json.load(f)
    kps, joints, sizes = [], [], []
    for sample, t in rows:
        with np.load(os.path.join(work, "prepared", "annotations", sample + ".npz")) as z:
            kps.append(z["keypoints"][t])
            joints.append(z["joints_3d"][t].astype(float))
            x1, y1, x2, y2 = z["boxes"][t]
            sizes.append(max(x2 - x1, y2 - y1))
    kps, joints, sizes = np.array(kps), np.array(joints), np.array(sizes)
    dist = np.sqrt(((uv - kps[..., :2]) ** 2).sum(-1)) / sizes[:, None]
    pck = {a: 100.0 * (dist <= a).sum() / dist.size for a in (0.1, 0.2)}
    pred_root = (xyz[:, HIPS[0]] + xyz[:, HIPS[1]]) / 2
    true_root = (joints[:, HIPS[0]] + joints[:, HIPS[1]]) / 2
    err = np.sqrt((((xyz - pred_root[:, None]) - (joints - true_root[:, None])) ** 2).sum(-1))
    return rows, pck, err.mean(), err.mean(0)


def test_train_then_eval_scores_equal_an_independent_computation(synth_work, tmp_path):
    out = str(tmp_path / "run")
    final = train_pose.main(args(synth_work, out))
    assert final == os.path.join(out, "final.params")
    assert os.path.isfile(os.path.join(out, "final.yaml"))
    assert sorted(os.listdir(os.path.join(out, "checkpoints"))) == [
        f"epoch-{e:03d}.{x}" for e in (0, 1) for x in ("json", "params", "states")]
    epochs = epochs_of(out)
    assert [e["epoch"] for e in epochs] == [0, 1]
    for e in epochs:
        assert np.isfinite([e["loss_pose"], e["loss_block2"], e["val_score"]]).all()
        assert e["loss_pose"] > e["loss_block2"] > 0  # the sum over both blocks
    result = eval_pose.main(args(synth_work, out))
    rows, pck, mpjpe, per_joint = independent_scores(synth_work, out)
    assert result["frames"] == len(rows) == 20 and {r[1] for r in rows} == {0, 6}
    assert all(r[0].endswith("_v03") for r in rows)  # xview3: the test view
    assert result["mean"]["PCK@0.1"] == pytest.approx(pck[0.1], abs=1e-3)
    assert result["mean"]["PCK@0.2"] == pytest.approx(pck[0.2], abs=1e-3)
    assert result["mean"]["MPJPE"] == pytest.approx(mpjpe, abs=1e-3)
    assert result["joints"]["left_wrist"]["MPJPE"] == pytest.approx(per_joint[9], abs=1e-3)
    saved = json.loads(open(os.path.join(out, "pose_eval.json")).read())
    assert saved["mean"] == result["mean"] and saved["checkpoint"].endswith("epoch-001.params")
    assert "| **mean** |" in open(os.path.join(out, "pose_eval.md")).read()
    untrained = eval_pose.main(args(synth_work, out) + ["--untrained"])
    _, pck, mpjpe, _ = independent_scores(synth_work, out, "_untrained")
    assert untrained["checkpoint"] == "untrained"
    assert untrained["mean"]["MPJPE"] == pytest.approx(mpjpe, abs=1e-3)
    assert untrained["mean"]["PCK@0.2"] == pytest.approx(pck[0.2], abs=1e-3)


def test_the_paper_size_config_takes_a_training_step(synth_work, tmp_path, monkeypatch):
    """softargmax_pose (K = 8, Nd = 16) at 64 px, one step: the same code path."""
    calls = []
    real_step = training.train_step

    def one_step(*a, **k):
        calls.append(1)
        loss, parts = real_step(*a, **k)
        assert np.isfinite(loss) and set(parts[0]) == {"loss_pose", "loss_block8"}
        raise KeyboardInterrupt  # stop after the first step
    monkeypatch.setattr(training, "train_step", one_step)
    with pytest.raises(KeyboardInterrupt):
        train_pose.main(args(synth_work, str(tmp_path / "paper"), config=PAPER))
    assert calls == [1]


def test_resume_after_a_kill_under_the_plateau_schedule_reaches_the_same_weights(
        synth_work, tmp_path):
    """lr_patience 1 and a large lr: the lr is cut during the run (after epoch 1), and the
    resumed run must take the cut (and the plateau's count) from the checkpoint. Every 2nd
    frame in batches of 2: 48 steps an epoch, so the kill lands inside one."""
    extra = ["train.epochs=4", "train.lr_patience=1", "train.lr=0.02", "train.log_interval=1",
             # settings under which this tiny run's validation score stalls, so the lr is cut
             "data.outside_joints=keep", "train.clip_gradient=2.0",
             "data.frame_step=2", "train.batch_size=2"]
    whole, killed = str(tmp_path / "whole"), str(tmp_path / "killed")
    train_pose.main(args(synth_work, whole, *extra))
    lrs = [e["lr"] for e in epochs_of(whole)]
    assert lrs[-1] < lrs[0], lrs  # the plateau schedule cut the lr before the last epoch
    cut = next(e for e, lr in enumerate(lrs) if lr < lrs[0])  # the first epoch run at a cut lr
    cmd = [sys.executable, os.path.join(ROOT, "train_pose.py")] + args(synth_work, killed, *extra)
    kill_during_epoch(cmd, killed, epoch=cut)
    assert not os.path.exists(os.path.join(killed, "final.params"))
    assert checkpoints.last_checkpoint(killed) in (cut - 1, cut)  # killed in epoch cut, mostly
    train_pose.main(args(synth_work, killed, *extra) + ["--resume"])
    a, b = params_of(os.path.join(whole, "final.params")), params_of(
        os.path.join(killed, "final.params"))
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_allclose(a[k], b[k], rtol=1e-5, atol=1e-6, err_msg=k)
    # metrics.jsonl holds each epoch once, with the same lr and plateau state
    for e, k in zip(epochs_of(whole), epochs_of(killed), strict=True):
        assert (k["epoch"], k["lr"], k["lr_next"], k["val_wait"]) == \
            (e["epoch"], e["lr"], e["lr_next"], e["val_wait"])
        assert k["val_score"] == pytest.approx(e["val_score"], rel=1e-4)


def test_plateau_cuts_after_patience_epochs_without_improvement():
    p = lr_schedule.Plateau(1.0, 0.2, patience=2)
    lrs = []
    for score in (5.0, 4.0, 4.5, 4.0, 3.0, 3.5, 3.5, 3.5):
        p.update(score)
        lrs.append(p.lr)
    assert lrs == pytest.approx([1, 1, 1, 0.2, 0.2, 0.2, 0.04, 0.04])
    again = lr_schedule.Plateau.from_metrics(p.state(), 0.2, 2)
    assert (again.lr, again.best, again.wait) == (p.lr, 3.0, 1)


def test_the_plateau_ends_the_run_once_the_score_stagnates_for_stop_epochs():
    """Keras's EarlyStopping beside ReduceLROnPlateau, by hand: the stop count runs since the
    best score and is not restarted by an lr cut; the epoch that stops lowers no lr (the lr of
    the last epoch trained is the run's final lr)."""
    p = lr_schedule.Plateau(1.0, 0.2, patience=2, stop=3)
    seen = []
    for score in (5.0, 4.0, 4.5, 4.5, 4.5):
        p.update(score)
        seen.append((p.lr, p.since_best, p.stopped))
    assert seen == [(1.0, 0, False), (1.0, 0, False), (1.0, 1, False), (0.2, 2, False),
                    (0.2, 3, True)]
    assert p.state()["stopped"] is True and p.state()["lr_next"] == 0.2
    again = lr_schedule.Plateau.from_metrics(p.state(), 0.2, 2, stop=3)
    assert again.stopped and (again.lr, again.best, again.since_best) == (0.2, 4.0, 3)
    assert not lr_schedule.Plateau(1.0, 0.2, patience=2).stopped  # no stop: never


def run_script(script, *arguments):
    return subprocess.run([sys.executable, os.path.join(ROOT, script), *arguments], cwd=ROOT,
                          capture_output=True, text=True)


def one_line_error(run, logged=False):
    """The error line of a failed script; ``logged``: it had started its log, whose console
    copy of the error comes first."""
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr[-2000:]
    lines = run.stderr.strip().splitlines()
    assert lines[-1].startswith("error: "), run.stderr
    if logged:
        assert lines[-2].endswith("ERROR " + lines[-1][len("error: "):]), run.stderr
    else:
        assert len(lines) == 1, run.stderr
    return lines[-1]


def test_bad_inputs_are_one_line(synth_work, tmp_path):
    prepared, path = copy_without_3d(synth_work, tmp_path)
    out = str(tmp_path / "x")
    line = one_line_error(run_script("train_pose.py", *args(synth_work, out),
                                     f"data.prepared={prepared}"))
    assert line.startswith(f"error: {path}: no 3D ground truth") and not os.path.exists(out)
    line = one_line_error(run_script("train_pose.py", *args(synth_work, out),
                                     "data.source=coco"))
    assert "does not train on data.source coco" in line
    line = one_line_error(run_script("train_pose.py", *args(synth_work, out),
                                     "data.val_share=0"))
    assert "plateau needs a validation score" in line
    line = one_line_error(run_script("train_pose.py", *args(synth_work, out),
                                     "train.optimizer=adam"))
    assert "'train.optimizer' is 'adam'; choose one of sgd, nesterov, rmsprop" in line
    line = one_line_error(run_script("eval_pose.py", *args(synth_work, out)), logged=True)
    assert "no whole checkpoint" in line


def test_eval_refuses_a_checkpoint_of_another_depth_range_and_a_nan_model(synth_work,
                                                                         tmp_path):
    out = str(tmp_path / "run")
    train_pose.main(args(synth_work, out, "train.epochs=1"))
    line = one_line_error(run_script("eval_pose.py", *args(synth_work, out, "train.epochs=1"),
                                     "data.depth_range_mm=1000"), logged=True)
    assert "was trained with data.depth_range_mm=2000.0; the config has 1000" in line
    import mxnet as mx
    nan = str(tmp_path / "nan.params")
    saved = mx.nd.load(os.path.join(out, "final.params"))
    mx.nd.save(nan, {k: v * np.nan for k, v in saved.items()})
    os.link(os.path.join(out, "final.yaml"), str(tmp_path / "nan.yaml"))
    line = one_line_error(run_script("eval_pose.py", *args(synth_work, out, "train.epochs=1"),
                                     f"eval.checkpoint={nan}"), logged=True)
    assert line.startswith(f"error: {nan} outputs non-finite poses (NaN or inf) for a")
    assert not os.path.exists(os.path.join(out, "pose_pred_2d.npy"))
    assert not os.path.exists(os.path.join(out, "pose_eval.json"))
