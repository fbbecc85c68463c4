"""Luvizon et al.'s multitask model through train_action / eval_action (Appendix B's two stages,
Sec. 4.3's single- and multi-clip tests): the loss against NumPy, the frozen pose part, the test
clips' starts by hand, and bad configs as one line."""
import json
import os

import mxnet as mx
import numpy as np
import pytest

import eval_action
import train_action
from engine.config import config_path, load_config
from data.index import read_index
from data.multitask.clips import MultitaskClips, middle_clip_start, multi_clip_starts
from engine.systems.multitask import finetune_lr
from helpers import (
    FINETUNED,
    SEPARATE,
    epoch_lines,
    needs_bfloat16,
    params_of,
    tiny_softargmax_pose,
    video_config,
)
from symbols.multitask.loss import MultitaskActionLoss

POSE_PART = ("stem.", "blocks.")


@pytest.fixture(scope="module")
def pose_run(synth_work, tmp_path_factory):
    """The tiny soft-argmax pose model after one epoch: stage 1's pose part."""
    return tiny_softargmax_pose(synth_work, str(tmp_path_factory.mktemp("pose") / "run"))


@pytest.fixture(scope="module")
def stages(synth_work, pose_run, tmp_path_factory):
    """Stage 1 (pose frozen) from the pose run, then stage 2 (end to end) from stage 1."""
    runs = str(tmp_path_factory.mktemp("runs"))
    first = video_config(SEPARATE, synth_work, runs, f"train.init_from={pose_run}")
    second = video_config(FINETUNED, synth_work, runs)
    return (first, train_action.run(first, [mx.cpu()])), \
        (second, train_action.run(second, [mx.cpu()]))


def log_softmax(x):
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


def test_the_loss_equals_a_numpy_cross_entropy_of_every_block_and_the_aggregation():
    rng = np.random.RandomState(0)
    n, actions, blocks, frames, joints = 3, 5, 2, 2, 4
    label = np.array([0, 3, 4])
    logits = {f"{s}{b + 1}": rng.randn(n, actions) * 3 for s in ("pose_action",
                                                                "appearance_action")
              for b in range(blocks)}
    logits["action"] = rng.randn(n, actions) * 3
    pose = rng.uniform(size=(n, frames, joints, 3))
    visible = rng.uniform(0.1, 0.9, size=(n, frames, joints))
    target = rng.uniform(size=(n, frames, joints, 3))
    vis_target = (rng.uniform(size=(n, frames, joints)) > 0.5).astype(float)
    outputs = {k: mx.nd.array(v) for k, v in logits.items()}
    outputs.update(pose1=mx.nd.array(pose), visible1=mx.nd.array(visible))
    loss = MultitaskActionLoss(blocks, 1, block_weight=0.5, aggregation_weight=2.0,
                               pose_weight=0.3, visibility_weight=0.01)
    total, parts = loss(outputs, mx.nd.array(label), mx.nd.array(target),
                        mx.nd.ones((n, frames, joints, 3)), mx.nd.array(vis_target))

    def ce(x):
        return -log_softmax(x)[np.arange(n), label]
    streams = {s: sum(ce(logits[f"{s}{b + 1}"]) for b in range(blocks))
               for s in ("pose_action", "appearance_action")}
    d = pose - target
    elastic = (np.abs(d) + d ** 2).sum(-1).mean(-1)  # Eq. (3), every joint known: (n, T)
    bce = -(vis_target * np.log(visible) + (1 - vis_target) * np.log(1 - visible)).mean(-1)
    pose_loss = (elastic + 0.01 * bce).mean(1)
    expected = 0.5 * (streams["pose_action"] + streams["appearance_action"]) + \
        2.0 * ce(logits["action"]) + 0.3 * pose_loss
    np.testing.assert_allclose(parts["loss_pose_action"].asnumpy(), streams["pose_action"],
                               rtol=1e-5)
    np.testing.assert_allclose(parts["loss_aggregation"].asnumpy(), ce(logits["action"]),
                               rtol=1e-5)
    np.testing.assert_allclose(parts["loss_pose"].asnumpy(), pose_loss, rtol=1e-5)
    np.testing.assert_allclose(total.asnumpy(), expected, rtol=1e-5)


@pytest.mark.parametrize("frames, clip_len, stride, middle, multi", [
    (36, 8, 3, 7, [0, 12]),  # span 22: starts 0..14, T/2 = 4 clip frames = 12 video frames
    (20, 4, 1, 8, [0, 2, 4, 6, 8, 10, 12, 14, 16]),  # span 4: 0..16 every 2
    (10, 8, 3, 1, [0]),  # the stride shrinks to 1 (span 8): starts 0..2, every 4
    (5, 8, 2, 0, [0]),  # shorter than a clip even at stride 1: one clip at 0
])
def test_single_and_multi_clip_starts_by_hand(frames, clip_len, stride, middle, multi):
    assert middle_clip_start(frames, clip_len, stride) == middle
    assert multi_clip_starts(frames, clip_len, stride) == multi


def test_test_items_hold_one_clip_per_start(synth_work):
    samples = read_index(f"{synth_work}/prepared")[:2]
    for clips, count in (("single", 1), ("multi", len(multi_clip_starts(12, 4, 2)))):
        data = MultitaskClips(f"{synth_work}/prepared", samples, mode="test", clip_len=4,
                              size=32, stride=2, test_clips=clips)
        views, label = data[1]
        assert views.shape == (count, 3, 4, 32, 32) and label == samples[1]["label"]


def test_stage_1_freezes_the_pose_part_and_stage_2_trains_it(stages, pose_run):
    (first, final1), (second, final2) = stages
    pose, one, two = params_of(pose_run), params_of(final1), params_of(final2)
    pose_names = [k for k in one if k.startswith(POSE_PART)]
    assert pose_names and all(k in pose for k in pose_names)
    for k in pose_names:  # weights and batch-norm statistics: the pose model's, bit for bit
        np.testing.assert_array_equal(one[k], pose[k], err_msg=k)
    assert any(k.startswith("pose_action.") for k in one)  # the action streams were saved
    changed = [k for k in pose_names if k.endswith(("weight", "beta"))
               and not np.array_equal(one[k], two[k])]
    assert len(changed) > len([k for k in pose_names if k.endswith(("weight", "beta"))]) // 2


def test_eval_reports_pose_appearance_and_aggregation_top1(stages, synth_work):
    (first, _), _ = stages
    for clips in ("single", "multi"):
        cfg = dict(first, eval=dict(first["eval"], multitask_clips=clips))
        result = eval_action.run(cfg, [mx.cpu()])
        with open(os.path.join(cfg["out"], "per_video.jsonl")) as f:
            rows = [json.loads(l) for l in f]
        assert result["videos"] == result["test_videos"] == len(rows) > 0
        for head in ("pose", "appearance", "aggregation"):  # top-1 from the per-video argmax
            assert result["top1"][head] == pytest.approx(
                np.mean([r[head] == r["label"] for r in rows]))
        # 12 frames, T 4 at stride 2 (span 7): multi starts 0 and 4 (T/2 x 2 frames apart)
        assert {r["clips"] for r in rows} == {1 if clips == "single" else 2}
        # Figure 8: every block's top-1 per stream; the last block's is the head's
        for head in ("pose", "appearance"):
            blocks = result["top1_blocks"][head]
            assert len(blocks) == 2 and blocks[-1] == result["top1"][head]
            for b in range(2):
                assert blocks[b] == pytest.approx(
                    np.mean([r[f"{head}_blocks"][b] == r["label"] for r in rows]))
        # Figure 9: per-class top-1 of each head, from the per-video rows
        for head in ("pose", "appearance", "aggregation"):
            for c, name in enumerate(result["per_class"][head]):
                mine = [r[head] == c for r in rows if r["label"] == c]
                assert result["per_class"][head][name] == (np.mean(mine) if mine else None)
        for figure in ("blocks.png", "classes.png", "confusion.png"):
            assert os.path.getsize(os.path.join(cfg["out"], figure)) > 1000
        assert result["clip_box"] == "predicted" and result["pose_input"] == "estimated"
    with open(os.path.join(first["out"], "results.md")) as f:
        assert "| Pose | Appearance | Aggregation |" in f.read()


@needs_bfloat16
def test_a_bfloat16_eval_says_so_in_its_results(stages, tmp_path):
    (first, _), _ = stages
    ckpt = os.path.join(first["out"], "final.params")
    cfg = dict(first, out=str(tmp_path / "bf16"),
               eval=dict(first["eval"], dtype="bfloat16", checkpoint=ckpt))
    result = eval_action.run(cfg, [mx.cpu()])
    assert result["dtype"] == "bfloat16" and result["videos"] == result["test_videos"] > 0
    with open(os.path.join(cfg["out"], "results.md")) as f:
        assert "(bfloat16)" in f.read()


def test_the_pose_loss_trains_when_asked(synth_work, stages, tmp_path):
    (first, final1), _ = stages
    cfg = video_config(FINETUNED, synth_work, str(tmp_path), f"train.init_from={final1}",
                       "train.multitask_pose_weight=1.0")
    train_action.run(cfg, [mx.cpu()])
    with open(os.path.join(cfg["out"], "metrics.jsonl")) as f:
        epoch = [json.loads(l) for l in f if '"kind": "epoch"' in l][-1]
    assert 0 < epoch["loss_pose"] < 20 and np.isfinite(epoch["loss_aggregation"])


@pytest.mark.parametrize("config, overrides, message", [
    (SEPARATE, ["train.init_from=null"], "set train.init_from"),
    (SEPARATE, ["train.stage=joint"], "trains in stage pose_frozen or end_to_end"),
    (config_path("synth_xview3_kps"), ["train.stage=pose_frozen"],
     "is a stage of the multitask models"),
    (SEPARATE, ["train.init_from=/nonexistent.params"], "no checkpoint at /nonexistent.params"),
    (SEPARATE, ["train.lr_schedule=plateau", "data.val_share=0.0"], "needs a validation score"),
    (SEPARATE, ["train.init_lr_divisor=10"], "train.init_lr_divisor divides the final lr"),
    (config_path("synth_xview3_kps"), ["train.lr_schedule=plateau"],
     "train.lr_schedule is 'plateau': only the multitask models"),
])
def test_bad_multitask_configs_are_one_line(synth_work, tmp_path, config, overrides, message):
    cfg = load_config(config, [f"data.prepared={synth_work}/prepared",
                               f"data.boxes={synth_work}/boxes.json",
                               f"data.poses={synth_work}/poses", f"out={tmp_path}/o",
                               *overrides])
    with pytest.raises(SystemExit) as err:
        train_action.run(cfg, [mx.cpu()])
    assert message in str(err.value) and "\n" not in str(err.value)
    assert not os.path.exists(f"{tmp_path}/o")


def test_the_frozen_pose_part_normalises_with_its_running_statistics_in_training():
    """Frozen = the trained pose model's function: in training mode its poses are those of
    inference (batch norm on running statistics), while the action streams still train."""
    from symbols import get_model
    net = get_model("softargmax_multitask_tiny", num_frames=4)
    net.freeze_pose()
    net.hybridize(static_alloc=True)
    clip = mx.nd.random.uniform(shape=(2, 3, 4, 64, 64))
    test = dict(zip(net.output_names, net(clip)))
    with mx.autograd.record(train_mode=True):
        train = dict(zip(net.output_names, net(clip)))
        loss = train["action"].sum()
    loss.backward()
    np.testing.assert_allclose(train["pose2"].asnumpy(), test["pose2"].asnumpy(), atol=1e-6)
    trained = [p for p in net.collect_params().values() if p.grad_req != "null"]
    assert trained and all(not p.name.startswith(net.stem.prefix) for p in trained)


def test_an_unreadable_test_video_stops_eval_or_is_scored_n_of_m(stages, synth_work, tmp_path):
    from test_bad_inputs import corrupt_copy

    from engine.experiment import split_samples
    (first, final1), _ = stages
    test_ids = [s["id"] for s in split_samples(first, "test")]
    copy = corrupt_copy(synth_work, tmp_path, test_ids[2])
    cfg = dict(first, data=dict(first["data"], prepared=copy), out=str(tmp_path / "eval"),
               eval=dict(first["eval"], checkpoint=final1))
    with pytest.raises(SystemExit, match=test_ids[2]):
        eval_action.run(cfg, [mx.cpu()])
    result = eval_action.run(cfg, [mx.cpu()], skip_unreadable=True)
    assert (result["videos"], result["test_videos"]) == (len(test_ids) - 1, len(test_ids))
    assert [s["id"] for s in result["skipped"]] == [test_ids[2]]
    with open(os.path.join(cfg["out"], "results.md")) as f:
        assert f"scored {len(test_ids) - 1} of {len(test_ids)}" in f.read()


def test_the_annotated_pose_input_trains_and_tests_on_the_annotations(synth_work, pose_run,
                                                                      tmp_path):
    """Table 3's "annotated poses" / Table 5's "Kinect poses": the pose stream reads the
    annotation's joints; with them zeroed, its scores change, so the input is really read."""
    cfg = video_config(SEPARATE, synth_work, str(tmp_path), f"train.init_from={pose_run}",
                       "model.options.pose_input=annotated")
    final = train_action.run(cfg, [mx.cpu()])
    result = eval_action.run(dict(cfg, eval=dict(cfg["eval"], checkpoint=final)), [mx.cpu()])
    assert result["pose_input"] == "annotated" and result["videos"] == result["test_videos"]
    import logging

    from engine.systems import loaded_model
    from engine.systems.multitask import multitask_test_data
    data = multitask_test_data(dict(cfg, eval=dict(cfg["eval"], clip_box="annotation")))
    views, label, poses = data[0]
    assert poses.shape == (1, 4, 17, 4) and set(np.unique(poses[..., 3])) <= {0.0, 1.0}
    assert poses[..., 3].sum() > 0
    net = loaded_model(cfg, mx.cpu(), final, logging.getLogger("test"))
    outputs = dict(zip(net.output_names, net(mx.nd.array(views), mx.nd.array(poses))))
    zeroed = dict(zip(net.output_names, net(mx.nd.array(views), mx.nd.zeros(poses.shape))))
    assert not np.allclose(outputs["pose_action2"].asnumpy(), zeroed["pose_action2"].asnumpy())
    np.testing.assert_allclose(outputs["pose1"].asnumpy(), zeroed["pose1"].asnumpy())


def test_the_fine_tuning_lr_is_the_first_stage_final_lr_over_ten_or_the_config_s(stages):
    (first, _), (second, _) = stages
    last = epoch_lines(first["out"])[-1]["lr"]  # step schedule: the lr its last epoch used
    assert epoch_lines(second["out"])[0]["lr"] == pytest.approx(last / 10)
    cfg = dict(second, train=dict(second["train"], init_lr_divisor=None, lr=3e-5))
    assert finetune_lr(cfg) == 3e-5
