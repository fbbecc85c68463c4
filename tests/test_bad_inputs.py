"""Bad inputs to training and evaluation: each stops with one line naming the problem (or, where
an option allows it, is skipped and said), never a silent substitute or a wrong score."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import eval_action
import train_action
from engine.training import checkpoints
from helpers import ROOT, config, overrides


@pytest.fixture(scope="module")
def runs(synth_work, tmp_path_factory):
    """A trained kps run and an RGB-only run on the tiny synthetic set (1 epoch each)."""
    root = str(tmp_path_factory.mktemp("runs"))
    out = {}
    for row in ("kps", "rgb_person_crop"):
        out[row] = os.path.join(root, row)
        train_action.main(["--config", config(row)] + overrides(
            synth_work, out[row], "train.epochs=1"))
    return out


def run_script(*args):
    """A script as a user runs it -> (exit code, stderr)."""
    proc = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True)
    return proc.returncode, proc.stderr


def assert_one_line_error(code, stderr, *needles):
    assert code != 0
    assert "Traceback" not in stderr, stderr[-3000:]
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("error: "), stderr[-3000:]
    for needle in needles:
        assert needle in last, last


def results_state(out):
    """results.json of a run as it is now (another test may have evaluated the run)."""
    path = os.path.join(out, "results.json")
    return os.stat(path).st_mtime_ns if os.path.exists(path) else None


def test_eval_refuses_a_checkpoint_without_the_pose_cnn(synth_work, runs):
    # the pose CNN must not keep its random init for a "pose" and "fused" top-1
    before = results_state(runs["kps"])
    code, err = run_script("eval_action.py", "--config", config("kps_pose_r18"),
                           *overrides(synth_work, runs["kps"]))
    assert_one_line_error(code, err, "heads")
    assert results_state(runs["kps"]) == before  # nothing written


def test_eval_refuses_a_final_params_without_its_config(synth_work, runs, tmp_path):
    lone = str(tmp_path / "lone.params")
    shutil.copyfile(os.path.join(runs["kps"], "final.params"), lone)
    with pytest.raises(SystemExit, match="has no config beside it"):
        eval_action.main(["--config", config("kps")] + overrides(
            synth_work, runs["kps"], f"eval.checkpoint={lone}"))


def test_strict_loading_names_the_first_missing_parameter(runs):
    from engine.config import load_config
    from engine.systems import build_model
    cfg = load_config(config("kps"), ["model.options.heads=[rgb, kps, pose]",
                                      "model.pretrained=null"])
    import mxnet as mx
    net = build_model(cfg, [mx.cpu()])
    with pytest.raises(ValueError, match=r"lacks parameter 'pose_cnn\."):
        checkpoints.load_weights(net, os.path.join(runs["kps"], "final.params"), [mx.cpu()])
    # the stage-2 initialisation: everything but the pose CNN, and all of it
    loaded = checkpoints.load_weights(net, os.path.join(runs["kps"], "final.params"),
                                      [mx.cpu()], fresh=("pose_cnn.",))
    assert loaded and not any(n.startswith("pose_cnn.") for n in loaded)
    with pytest.raises(ValueError, match=r"lacks parameter 'pose_head\."):
        checkpoints.load_weights(net, os.path.join(runs["rgb_person_crop"], "final.params"),
                                 [mx.cpu()], fresh=("pose_cnn.",))


def test_stage_2_from_an_rgb_only_checkpoint_fails_before_training(synth_work, runs, tmp_path):
    # Otherwise a random pose head would be frozen and stage 2 would finish.
    out = str(tmp_path / "stage2")
    init = os.path.join(runs["rgb_person_crop"], "final.params")
    with pytest.raises(SystemExit, match=r"lacks parameter 'pose_head\."):
        train_action.main(["--config", config("kps_pose_r18")] + overrides(
            synth_work, out, f"train.init_from={init}"))
    assert not os.path.exists(os.path.join(out, "checkpoints"))


def corrupt_copy(work, tmp_path, bad_id):
    """A copy of the prepared set whose video ``bad_id`` is cut to its first 2 KB."""
    copy = str(tmp_path / "prepared")
    shutil.copytree(os.path.join(work, "prepared"), copy)
    path = os.path.join(copy, "videos", bad_id + ".avi")
    with open(path, "rb") as f:
        head = f.read(2048)
    with open(path, "wb") as f:
        f.write(head)
    return copy


def test_an_unreadable_test_video_stops_eval_or_is_skipped_and_said(synth_work, runs, tmp_path):
    from engine.config import load_config
    from engine.experiment import split_samples
    cfg = load_config(config("kps"), overrides(synth_work, runs["kps"]))
    test_ids = [s["id"] for s in split_samples(cfg, "test")]
    bad = test_ids[3]
    copy = corrupt_copy(synth_work, tmp_path, bad)
    args = ["--config", config("kps")] + overrides(synth_work, runs["kps"],
                                                   f"data.prepared={copy}", "data.workers=2")
    # Not the next video scored under the bad one's id, nor a result of 10 videos.
    with pytest.raises(SystemExit, match=bad):
        eval_action.main(args)
    results = eval_action.main(args + ["--skip-unreadable"])
    assert results["videos"] == len(test_ids) - 1 and results["test_videos"] == len(test_ids)
    assert [s["id"] for s in results["skipped"]] == [bad] and results["skipped"][0]["reason"]
    per_video = [json.loads(l) for l in open(os.path.join(runs["kps"], "per_video.jsonl"))]
    assert [v["id"] for v in per_video] == [i for i in test_ids if i != bad]
    labels = {s["id"]: s["label"] for s in split_samples(cfg, "test")}
    assert all(v["label"] == labels[v["id"]] for v in per_video)
    assert f"scored {len(test_ids) - 1} of {len(test_ids)}" in open(
        os.path.join(runs["kps"], "results.md")).read()


def test_training_replaces_unreadable_samples_only_up_to_the_configured_share(
        synth_work, tmp_path):
    from engine.config import load_config
    from engine.experiment import split_samples
    cfg = load_config(config("rgb_person_crop"), overrides(synth_work, "unused"))
    bad = split_samples(cfg, "train")[0]["id"]
    copy = corrupt_copy(synth_work, tmp_path, bad)
    args = ["--config", config("rgb_person_crop")] + overrides(
        synth_work, str(tmp_path / "a"), f"data.prepared={copy}", "train.epochs=1")
    with pytest.raises(SystemExit, match="1 unreadable samples in epoch 1"):
        train_action.main(args + ["train.max_unreadable=0.0"])
    out = str(tmp_path / "b")
    train_action.main(args[:-1] + [f"out={out}", "train.epochs=1", "train.max_unreadable=0.1"])
    epoch = [json.loads(l) for l in open(os.path.join(out, "metrics.jsonl"))][-1]
    assert epoch["kind"] == "epoch" and epoch["unreadable"] == 1


def test_a_missing_pose_file_is_an_error_before_any_work(synth_work, tmp_path):
    poses = str(tmp_path / "poses")
    shutil.copytree(os.path.join(synth_work, "poses"), poses)
    victim = sorted(os.listdir(poses))[0]
    os.remove(os.path.join(poses, victim))
    out = str(tmp_path / "run")
    code, err = run_script("train_action.py", "--config", config("kps"),
                           *overrides(synth_work, out, f"data.poses={poses}"))
    assert_one_line_error(code, err, "no pose file", victim[:-4])
    assert not os.path.exists(out)


def test_resume_skips_a_cut_newest_checkpoint_and_says_so(synth_work, tmp_path):
    out = str(tmp_path / "run")
    args = ["--config", config("rgb_person_crop")] + overrides(synth_work, out)
    train_action.main(args)
    newest = checkpoints.prefix_of(out, 1) + ".params"
    with open(newest, "r+b") as f:
        f.truncate(os.path.getsize(newest) // 2)
    train_action.main(args + ["--resume"])
    assert "checkpoint of epoch 1 is corrupt" in open(os.path.join(out, "train.log")).read()
    assert checkpoints.verify(checkpoints.prefix_of(out, 1))  # epoch 1 trained again, whole
    epochs = [json.loads(l)["epoch"] for l in open(os.path.join(out, "metrics.jsonl"))
              if '"kind": "epoch"' in l]
    assert epochs == [0, 1]


def test_resume_refuses_a_changed_config_but_not_a_changed_worker_count(synth_work, tmp_path):
    out = str(tmp_path / "run")
    args = ["--config", config("rgb_person_crop")] + overrides(synth_work, out, "train.epochs=1",
                                                                  "train.lr=0.01")
    train_action.main(args)
    code, err = run_script("train_action.py", "--resume", *args, "train.lr=0.5")
    assert_one_line_error(code, err, "train.lr 0.01 -> 0.5")
    assert train_action.main(["--resume"] + args + ["data.workers=1"]).endswith("final.params")


def test_a_new_run_does_not_overwrite_a_finished_one(synth_work, runs):
    with pytest.raises(SystemExit, match="already holds checkpoints.*--resume"):
        train_action.main(["--config", config("kps")] + overrides(
            synth_work, runs["kps"], "train.epochs=1"))


def test_an_unwritable_output_folder_is_one_line(synth_work, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code, err = run_script("train_action.py", "--config", config("kps"),
                           *overrides(synth_work, str(blocker / "run")))
    assert_one_line_error(code, err, str(blocker))


def test_a_full_disk_while_checkpointing_is_one_line_naming_the_file(synth_work, tmp_path,
                                                                    monkeypatch):
    import errno

    from mxnet import gluon

    def no_space(self, path, *args, **kwargs):
        with open(path, "wb") as f:
            f.write(b"half")
        raise OSError(errno.ENOSPC, "No space left on device", path)
    monkeypatch.setattr(gluon.Block, "save_parameters", no_space)
    out = str(tmp_path / "run")
    with pytest.raises(SystemExit, match=r"epoch-000\.params: .*No space left on device"):
        train_action.main(["--config", config("rgb_person_crop")] + overrides(synth_work, out))
    assert os.listdir(os.path.join(out, "checkpoints")) == []  # no temporary, no half file


def test_non_finite_outputs_are_an_error_not_a_score(synth_work, runs, tmp_path, monkeypatch):
    import mxnet as mx
    run = str(tmp_path / "nan")
    shutil.copytree(runs["kps"], run)
    saved = mx.nd.load(os.path.join(run, "final.params"))
    saved["rgb_head.fc.bias"][:] = np.nan
    mx.nd.save(os.path.join(run, "final.params"), saved)
    with pytest.raises(SystemExit, match="non-finite scores"):
        eval_action.main(["--config", config("kps")] + overrides(
            synth_work, run, f"eval.checkpoint={run}/final.params"))
    assert not os.path.exists(os.path.join(run, "results.json")) or \
        open(os.path.join(run, "results.json")).read() == open(
            os.path.join(runs["kps"], "results.json")).read()


def test_eval_of_another_datasets_checkpoint_names_the_classes(synth_work, runs, tmp_path):
    # The checkpoint's config says synth; a config for another dataset is refused before work.
    from engine.config import config_path, load_config
    from engine.systems import checked_against_checkpoint
    cfg = load_config(config_path("nucla_xview1_kps"))
    with pytest.raises(ValueError, match="synth's classes; this config needs one trained on nucla"):
        checked_against_checkpoint(cfg, os.path.join(runs["kps"], "final.params"))
    # Cross-dataset configs take the number of classes from the (NTU) checkpoint.
    cross = load_config(config_path("cross_msr_kps"))
    saved = load_config(config_path("ntu_xsub_kps"))
    ckpt = tmp_path / "final.params"
    ckpt.write_bytes(b"")
    import yaml
    (tmp_path / "final.yaml").write_text(yaml.safe_dump(saved))
    checked = checked_against_checkpoint(cross, str(ckpt))
    assert checked["model"]["options"]["num_classes"] == 60
    assert cross["model"]["options"]["num_classes"] == 16


def test_a_batch_smaller_than_the_device_count_is_one_line(synth_work, tmp_path):
    code, err = run_script("train_action.py", "--config", config("kps"), "--cpus", "2",
                           *overrides(synth_work, str(tmp_path / "run"), "train.batch_size=1"))
    assert_one_line_error(code, err, "train.batch_size 1", "2")
    assert not os.path.exists(str(tmp_path / "run"))
