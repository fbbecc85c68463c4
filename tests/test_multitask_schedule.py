"""Appendix B's action schedule for Luvizon et al.'s multitask model: validation on held-out
training videos, lr x0.2 when it stalls, the first stage ended when it stagnates, and the
fine-tuning stage starting at that stage's final lr / 10."""
import logging
import os

import mxnet as mx
import numpy as np
import pytest

import engine.systems.multitask
import train_action
from data.index import read_index, read_splits
from data.multitask.pose_frames import hold_out
from engine.experiment import multitask_clips
from engine.systems.multitask import clip_options, evaluate_multitask, finetune_lr
from helpers import (
    FINETUNED,
    SEPARATE,
    epoch_lines,
    params_of,
    tiny_softargmax_pose,
    video_config,
)


@pytest.fixture(scope="module")
def pose_run(synth_work, tmp_path_factory):
    """The tiny soft-argmax pose model after one epoch: stage 1's pose part."""
    return tiny_softargmax_pose(synth_work, str(tmp_path_factory.mktemp("pose") / "run"))


def test_the_plateau_holds_out_videos_validates_as_the_test_and_lowers_lr_when_it_stalls(
        synth_work, pose_run, tmp_path):
    """Appendix B's action schedule: a share of the training performances held out, scored
    after every epoch as eval_action scores a test set; lr x0.2 once the score stops improving
    (by hand below, Keras's rule); the fine-tuning stage starts at that run's final lr / 10. A
    tiny lr keeps the weights, hence the score, still: the plateau must act."""
    cfg = video_config(SEPARATE, synth_work, str(tmp_path), f"train.init_from={pose_run}",
                       "train.epochs=3", "data.val_share=0.25", "train.lr_schedule=plateau",
                       "train.lr_patience=1", "train.lr=1e-9")
    final = train_action.run(cfg, [mx.cpu()])
    # the held-out videos by hand: a quarter of the train split's takes (label, subject,
    # repetition), each with both its views
    train_ids = set(read_splits(f"{synth_work}/prepared")["protocols"]["xview3"]["train"])
    samples = [s for s in read_index(f"{synth_work}/prepared") if s["id"] in train_ids]

    def take(s):
        return s["label"], s["subject"], s["repetition"]
    held = hold_out(samples, 0.25, cfg["train"]["seed"])[1]
    assert len({take(s) for s in held}) == int(round(0.25 * len({take(s) for s in samples})))
    assert sorted(s["id"] for s in held) == sorted(
        s["id"] for s in samples if take(s) in {take(h) for h in held})
    with open(os.path.join(cfg["out"], "train.log")) as f:
        text = f.read()
    assert f"validation: {len(held)} of {len(samples)} training videos held out" in text
    assert f"{len(samples) - len(held)} training samples" in text
    lr, best, wait = 1e-9, np.inf, 0
    epochs = epoch_lines(cfg["out"])
    for e in epochs:
        assert e["lr"] == pytest.approx(lr)
        if e["val_score"] < best:
            best, wait = e["val_score"], 0
        else:
            wait += 1
            lr, wait = (lr * 0.2, 0) if wait >= 1 else (lr, wait)
        assert e["lr_next"] == pytest.approx(lr) and e["val_best"] == best
    assert epochs[-1]["lr_next"] < 1e-9  # the score stalled: lr was lowered
    # the last val_score is 1 - the aggregation's top-1 of eval_action's path on those videos
    ecfg = dict(cfg, out=str(tmp_path / "val_eval"))
    os.makedirs(ecfg["out"])
    data = multitask_clips(ecfg, held, "test").replace(**clip_options(ecfg, "test"))
    result = evaluate_multitask(ecfg, [mx.cpu()], logging.getLogger("test"), final, data)
    assert result["videos"] == len(held)
    assert epochs[-1]["val_score"] == pytest.approx(1 - result["top1"]["aggregation"])
    second = video_config(FINETUNED, synth_work, str(tmp_path), f"train.init_from={final}")
    train_action.run(second, [mx.cpu()])
    assert epoch_lines(second["out"])[0]["lr"] == pytest.approx(epochs[-1]["lr_next"] / 10)


def test_stage_1_ends_when_validation_stagnates_and_a_resume_only_writes_its_final(
        synth_work, pose_run, tmp_path, monkeypatch):
    """Appendix B: "When validation accuracy stagnates, we divide the final learning rate by 10
    and fine tune". Validation scores given by hand (the run's own held-out videos are still
    held out): with lr_patience 1 and stop_patience 2, 0.5, 0.4 (best), 0.6 (lr cut), 0.4 (two
    epochs without a better score: the end) stop the run after its fourth epoch of at most
    eight; the lr it trained with last, divided by 10, is the fine-tuning stage's; resumed, it
    trains nothing and writes the same final."""
    scores = iter([0.5, 0.4, 0.6, 0.4, 0.1, 0.1, 0.1, 0.1])
    monkeypatch.setattr(engine.systems.multitask, "validation",
                        lambda cfg, clips, ctx: lambda net: next(scores))
    cfg = video_config(SEPARATE, synth_work, str(tmp_path), f"train.init_from={pose_run}",
                       "train.epochs=8", "data.val_share=0.25", "train.lr_patience=1",
                       "train.stop_patience=2", "train.lr=1e-4")
    final = train_action.run(cfg, [mx.cpu()])
    epochs = epoch_lines(cfg["out"])
    assert [e["val_score"] for e in epochs] == [0.5, 0.4, 0.6, 0.4]
    assert [e.get("stopped", False) for e in epochs] == [False, False, False, True]
    assert [e["val_since_best"] for e in epochs] == [0, 0, 1, 2]
    assert [e["lr"] for e in epochs] == pytest.approx([1e-4, 1e-4, 1e-4, 2e-5])
    assert epochs[-1]["lr_next"] == pytest.approx(2e-5)  # the stopping epoch cuts no lr
    with open(os.path.join(cfg["out"], "train.log")) as f:
        assert "the run ends after epoch 4 of at most 8" in f.read()
    assert final == os.path.join(cfg["out"], "final.params")
    before = params_of(final)
    last = params_of(os.path.join(cfg["out"], "checkpoints", "epoch-003.params"))
    assert all(np.array_equal(before[k], last[k]) for k in before)
    assert train_action.run(cfg, [mx.cpu()], resume_run=True) == final
    assert len(epoch_lines(cfg["out"])) == 4
    after = params_of(final)
    assert all(np.array_equal(before[k], after[k]) for k in before)
    second = video_config(FINETUNED, synth_work, str(tmp_path), f"train.init_from={final}")
    assert finetune_lr(second) == pytest.approx(2e-5 / 10)
