"""Stage 2 on kept keypoints (train.pose_cnn_draws, engine/systems/pose_draws.py): the draws
cycle over the epochs, hold what the frozen model gives each epoch's clips, and train."""
import json
import logging
import os

import mxnet as mx
import numpy as np
import pytest

import train_action
from data.batch import PoseCNNItem
from data.loader import Substitutes
from engine.config import ConfigError, load_config
from engine.experiment import clip_dataset, split_samples
from engine.systems import build_model
from engine.systems.pose_draws import KeypointDraws, draw_keypoints
from helpers import config, overrides, params_of

LOG = logging.getLogger("test")


def test_epoch_e_reads_draw_e_mod_n():
    rng = np.random.RandomState(0)
    poses = rng.uniform(size=(3, 5, 3, 2, 17)).astype(np.float32)
    labels = rng.randint(0, 10, size=(3, 5)).astype(np.int32)
    draws = KeypointDraws(poses, labels)
    assert len(draws) == 5
    for epoch, draw in ((0, 0), (2, 2), (3, 0), (7, 1)):
        draws.set_epoch(epoch)
        item, unreadable = draws[4]
        assert isinstance(item, PoseCNNItem) and unreadable == 0
        np.testing.assert_array_equal(item.poses, poses[draw, 4])
        assert item.label == labels[draw, 4]
    with pytest.raises(ValueError, match="differ"):
        KeypointDraws(poses, labels[:, :4])


def test_draws_hold_the_frozen_models_input_of_each_epochs_clips(synth_work, tmp_path):
    cfg = load_config(config("kps_pose_r18"), overrides(synth_work, str(tmp_path),
                                                        "train.init_from=unused.params"))
    net = build_model(cfg, [mx.cpu()])
    data = Substitutes(clip_dataset(cfg, split_samples(cfg, "train"), "train", True))
    draws = draw_keypoints(net, data, cfg, mx.cpu(), 2, LOG)
    kept = len(data) // cfg["train"]["batch_size"] * cfg["train"]["batch_size"]
    assert draws.poses.shape == (2, kept, 3, cfg["data"]["clip_len"], 17)
    for epoch in (0, 1):
        # Clip by clip, outside the loader: each kept input is one clip's, with its label.
        data.set_epoch(epoch)
        one_by_one = []
        for i in range(len(data)):
            item = data[i].item
            x = net.before_pose_cnn(mx.nd.array(item.clip[None]))[1].asnumpy()[0]
            one_by_one.append((x, int(item.label)))
        for x, label in zip(draws.poses[epoch], draws.labels[epoch]):
            assert any(label == l and np.allclose(x, y, atol=1e-4) for y, l in one_by_one)
    assert not np.allclose(draws.poses[0], draws.poses[1])  # each epoch its own clips


def test_stage_two_on_kept_keypoints_trains_the_pose_cnn_alone(synth_work, tmp_path):
    kps = train_action.main(["--config", config("kps")] + overrides(
        synth_work, str(tmp_path / "kps"), "train.epochs=1"))
    out = str(tmp_path / "stage2")
    final = train_action.main(["--config", config("kps_pose_r18")] + overrides(
        synth_work, out, f"train.init_from={kps}", "train.pose_cnn_draws=1", "train.epochs=3",
        "train.lr_steps=[2]"))
    before, after = params_of(kps), params_of(final)
    assert all(np.array_equal(before[k], after[k]) for k in before)  # the frozen model
    first = params_of(os.path.join(out, "checkpoints", "epoch-000.params"))
    # Epochs 1 and 2 read epoch 0's kept keypoints again, and still move the pose CNN.
    assert any(not np.array_equal(first[k], after[k]) for k in after if k.startswith("pose_cnn"))
    epochs = [json.loads(l) for l in open(os.path.join(out, "metrics.jsonl"))
              if '"kind": "epoch"' in l]
    assert [e["epoch"] for e in epochs] == [0, 1, 2]
    assert all({"loss_pose", "train_pose_top1"} <= set(e) for e in epochs)


def test_draws_outside_stage_two_are_refused():
    with pytest.raises(ConfigError, match="pose_cnn_draws .* needs train.stage=pose_cnn"):
        load_config(config("kps"), ["train.pose_cnn_draws=4"])
