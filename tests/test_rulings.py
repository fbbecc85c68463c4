"""The paper's settings and the rulings on its ambiguities are config values that reach the code
that uses them; stage 2 is one setting, checked together."""
import os

import mxnet as mx
import numpy as np
import pytest

import train_action
from engine.config import ConfigError, load_config
from data.pose_targets import encode_pose
from engine.metrics import scoring
from engine.systems import build_model
from engine.experiment import clip_dataset, split_samples
from helpers import config, overrides, params_of
from symbols.pose_loss import PoseLoss


def test_one_disk_radius_for_targets_and_decoder_under_an_override(synth_work):
    # Before: model.options.radius reached the decoder, while the targets kept the default.
    cfg = load_config(config("kps_pose_r18"), overrides(synth_work, "unused") + [
        "model.options.radius=11.0"])
    dataset = clip_dataset(cfg, split_samples(cfg, "train"), "train", with_poses=True)
    net = build_model(cfg, [mx.cpu()])
    assert dataset.radius == net.radius == 11.0
    # A keypoint encoded by the dataset's targets is decoded back by the model's decoder.
    stride, hm = net.stride, cfg["data"]["size"] // net.stride
    kps = np.array([[21.3, 40.7, 1.0]] + [[0.0, 0.0, 0.0]] * 16, np.float32)
    heat, offsets, _ = encode_pose(kps, (hm, hm), stride, dataset.radius)
    logits = mx.nd.array(heat[None, None] * 20 - 10)  # (1, 1, K, H, W)
    decoded = net.decoder(logits, mx.nd.array(offsets[None, None])).asnumpy()[0, 0, 0]
    size = cfg["data"]["size"]
    np.testing.assert_allclose(decoded[:2] * size, [21.3, 40.7], atol=1e-3)


def test_stage_2_derives_batch_norm_and_checks_heads_and_init():
    stage2 = load_config(config("kps_pose_r18"))
    assert stage2["model"]["global_stats"] == "backbone"
    assert stage2["train"]["init_from"] == "runs/synth_xview3_kps/final.params"
    assert load_config(config("kps"))["model"]["global_stats"] == "none"
    moved = load_config(config("kps_pose_r18"), ["runs=elsewhere"])
    assert moved["train"]["init_from"] == "elsewhere/synth_xview3_kps/final.params"
    assert moved["out"] == "elsewhere/synth_xview3_kps_pose_r18"
    for bad, words in ((["model.options.heads=[rgb, kps]"], "add 'pose'"),
                       (["model.global_stats=none"], "global_stats is none"),
                       (["train.init_from=null"], "init_from is null")):
        with pytest.raises(ConfigError, match=words):
            load_config(config("kps_pose_r18"), bad)
    with pytest.raises(ConfigError, match="pose_cnn_init .* needs train.stage=pose_cnn"):
        load_config(config("kps"), ["train.pose_cnn_init=x.params"])


def test_ntu_pretrain_rows_start_the_pose_cnn_from_ntus(synth_work, tmp_path):
    """train.pose_cnn_init: the pose CNN's trunk from another stage-2 run, its classifier fresh."""
    runs = str(tmp_path)
    common = overrides(synth_work, "unused") + [f"runs={runs}", "train.epochs=1"]
    common.remove("out=unused")
    for row in ("kps", "kps_pose_r18"):
        train_action.main(["--config", config(row)] + common)
    donor = params_of(os.path.join(runs, "synth_xview3_kps_pose_r18", "final.params"))
    cfg = load_config(config("kps_pose_r18"), common + [
        f"train.pose_cnn_init={runs}/synth_xview3_kps_pose_r18/final.params",
        "train.lr=1e-12", "out=" + str(tmp_path / "pretrained")])
    train_action.run(cfg, [mx.cpu()])
    got = params_of(str(tmp_path / "pretrained" / "final.params"))
    trunk = [k for k in donor if k.startswith("pose_cnn.") and not k.startswith("pose_cnn.fc.")]
    assert trunk and all(np.allclose(got[k], donor[k], atol=1e-6) for k in trunk
                         if not k.endswith(("running_mean", "running_var")))
    assert not np.allclose(got["pose_cnn.fc.weight"], donor["pose_cnn.fc.weight"])


def test_cross_dataset_argmax_restricted_or_over_all_classes():
    scores = np.array([[0.5, 0.1, 0.4], [0.2, 0.3, 0.5]])
    mapping = {0: [1], 1: [2]}  # source class 0 is not shared
    assert scoring.top1(scores, np.array([1, 1]), mapping, restricted=True) == 1.0
    assert scoring.top1(scores, np.array([1, 1]), mapping, restricted=False) == 0.5


def test_pose_loss_frames_mean_or_sum():
    rng = np.random.RandomState(0)
    shapes = [(2, 4, 3, 5, 5), (2, 4, 3, 2, 5, 5), (2, 4, 3, 5, 5), (2, 4, 3, 2, 5, 5), (2, 4, 3)]
    args = [mx.nd.array(rng.rand(*s)) for s in shapes]
    mean = PoseLoss(frames="mean")(*args)[0].asnumpy()
    total = PoseLoss(frames="sum")(*args)[0].asnumpy()
    np.testing.assert_allclose(total, 4 * mean, rtol=1e-5)  # T = 4 frames


def test_crop_rulings_reach_the_dataset(synth_work):
    cfg = load_config(config("kps"), overrides(synth_work, "unused") + [
        "eval.test_crop_scale=1.5", "data.crop_aspect=2.0", "data.random_crop_scale=[0.5, 0.6]",
        "data.pose_min_confidence=0.3"])
    ds = clip_dataset(cfg, split_samples(cfg, "test"), "test", with_poses=False)
    assert (ds.test_crop_scale, ds.crop_aspect, ds.random_crop_scale, ds.min_confidence) == \
        (1.5, 2.0, (0.5, 0.6), 0.3)
