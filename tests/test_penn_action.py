"""Penn Action as a video dataset (Luvizon Table 3): a tiny copy written here in the release's
formats (labels/NNNN.mat by scipy.io.savemat, frames/NNNN/*.jpg), counted by the protocols CLI,
prepared into videos with pa16 annotations that equal the label files, and one training step of
the tiny multitask model on it through train_action.run."""
import json
import os
import subprocess
import sys

import cv2
import mxnet as mx
import numpy as np
import pytest
from test_penn import write_label

import train_action
from engine.config import config_path, load_config
from data import penn_action
from data.index import read_index, read_skipped, read_splits
from data.multitask.clips import MultitaskClips, flip_clip_keypoints
from data.prepare import prepare
from helpers import ROOT
from symbols import get_model

SEPARATE = config_path("penn_action_official_softargmax_separate")
W, H = 96, 72
# Penn's joint k goes to pa16 joint PENN_TO_PA16[k], by hand from the two orders (data/joints.py):
# head -> head_top 3, left_shoulder -> 5, right_shoulder -> 4, ... left_ankle 15, right_ankle 14.
PENN_TO_PA16 = [3, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14]
# (sequence, train flag, frames, bbox rows, action)
SEQUENCES = [("0001", 1, 5, 5, "bowl"), ("0002", 1, 6, 5, "squat"), ("0003", -1, 4, 4, "pushup")]


def write_frames(root, video, frames, seed):
    rng = np.random.RandomState(seed)
    folder = os.path.join(root, "frames", video)
    os.makedirs(folder, exist_ok=True)
    for t in range(frames):
        image = np.full((H, W, 3), 40 * t % 255, np.uint8)
        image[10:40, 20:60] = rng.randint(0, 255, 3)
        assert cv2.imwrite(os.path.join(folder, f"{t + 1:06d}.jpg"), image)


@pytest.fixture(scope="module")
def penn_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("penn"))
    labels = {}
    for k, (video, train, frames, rows, action) in enumerate(SEQUENCES):
        labels[video] = write_label(os.path.join(root, "labels"), video, frames=frames,
                                    train=train, action=action, box_rows=rows, seed=k)
        write_frames(root, video, frames, seed=k)
    return root, labels


@pytest.fixture(scope="module")
def prepared(penn_root, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("prepared"))
    samples, skipped = prepare("penn_action", penn_root[0], out, workers=1, progress=False)
    return out, samples, skipped


def test_protocol_counts_equal_a_hand_count(penn_root, tmp_path):
    out = subprocess.run([sys.executable, "-m", "data.protocols", "--dataset", "penn_action",
                          "--names", penn_root[0]], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    # two sequences with train flag 1, one with -1
    assert report["samples"] == 3 and report["skipped"] == 0
    assert report["protocols"] == {"official": {"train": 2, "test": 1}}


def test_prepare_writes_each_sequence_as_a_video_with_its_labels(penn_root, prepared):
    root, labels = penn_root
    out, samples, skipped = prepared
    assert skipped == [] and [s["id"] for s in read_index(out)] == ["0001", "0002", "0003"]
    assert read_splits(out)["protocols"]["official"] == {"train": ["0001", "0002"],
                                                         "test": ["0003"]}
    for s in read_index(out):
        video, train, frames, rows, action = SEQUENCES[int(s["id"]) - 1]
        label = labels[video]
        assert s["label"] == penn_action.CLASSES.index(action) and s["train"] == (train == 1)
        assert (s["frames"], s["width"], s["height"]) == (frames, W, H)  # the frames' own size
        assert s["boxes_filled"] == frames - rows
        with np.load(os.path.join(out, "annotations", video + ".npz")) as z:
            kps, boxes, layout = z["keypoints"], z["boxes"], str(z["layout"])
        assert layout == "pa16" and kps.shape == (frames, 16, 3)
        assert np.array_equal(kps[:, PENN_TO_PA16, 0], label["x"].astype(np.float32))
        assert np.array_equal(kps[:, PENN_TO_PA16, 1], label["y"].astype(np.float32))
        assert np.array_equal(kps[:, PENN_TO_PA16, 2], label["visibility"].astype(np.float32))
        assert not kps[:, :3].any()  # pelvis, thorax, neck: Penn has none, masked
        assert np.array_equal(boxes[:rows], label["bbox"].astype(np.float32))
        assert np.array_equal(boxes[rows:], np.repeat(boxes[rows - 1:rows], frames - rows, 0))
        cap = cv2.VideoCapture(os.path.join(out, s["path"]))
        ok, first = cap.read()
        cap.release()
        jpeg = cv2.imread(os.path.join(root, "frames", video, "000001.jpg"))
        assert ok and np.abs(first.astype(float) - jpeg).mean() < 3  # MJPG of the same frame


def test_a_sequence_with_a_missing_frame_is_skipped_with_its_name(penn_root, tmp_path):
    root = str(tmp_path / "penn")
    for video, train, frames, rows, action in SEQUENCES[:2]:
        write_label(os.path.join(root, "labels"), video, frames=frames, train=train,
                    action=action, box_rows=rows)
        write_frames(root, video, frames, seed=0)
    gone = os.path.join(root, "frames", "0002", "000004.jpg")
    os.remove(gone)
    samples, skipped = prepare("penn_action", root, str(tmp_path / "out"), workers=1,
                               progress=False)
    assert [s["id"] for s in samples] == ["0001"]
    assert read_skipped(str(tmp_path / "out" / "skipped.csv")) == [
        (os.path.join(root, "labels", "0002.mat"), f"{gone}: missing frame (6 in the label file)")]


def test_pose_targets_of_a_2d_dataset_mask_every_depth(prepared):
    out = prepared[0]
    # outside="keep": a joint the crop cuts off keeps its x, y target, so the mask is the
    # visibility itself (the default "drop" masks those joints too: tests/test_elastic_net_loss)
    clips = MultitaskClips(out, read_index(out)[:1], clip_len=4, size=64, num_joints=16,
                           pose_targets=True, flip=False, scale=0.0, rotation=0.0,
                           translation=0.0, outside="keep")
    _, _, target, mask, visibility = clips[0]
    with np.load(os.path.join(out, "annotations", "0001.npz")) as z:
        visible = z["keypoints"][..., 2] > 0
    assert not mask[..., 2].any() and not mask[:, :3].any()
    # every clip frame of a 5-frame video at subsample 1-3 is one of its frames: the x, y mask is
    # the visibility of some frame, row by row
    assert all(any(np.array_equal(m, v) for v in visible) for m in mask[..., 0] > 0)
    assert np.isnan(visibility[mask[..., 0] == 0]).all()


def test_a_mirror_swaps_the_pa16_sides():
    kps = np.zeros((16, 3), np.float32)
    kps[9] = [10, 20, 1]  # left_wrist
    flipped = flip_clip_keypoints(kps, 64, "pa16")
    assert flipped[8].tolist() == [53, 20, 1]  # now right_wrist, x -> 63 - x
    assert flipped[9].tolist() == [63, 0, 0]  # the empty right_wrist, mirrored


def test_one_training_step_on_the_prepared_copy(prepared, tmp_path):
    out = prepared[0]
    # the Penn rows' 2D pose model: two context maps a joint (ref. [28], configs/pose/)
    pose = get_model("softargmax_pose_tiny", num_joints=16, input_size=64, context_maps=2,
                     ctx=[mx.cpu()])
    pose(mx.nd.zeros((1, 3, 64, 64)))
    pose.save_parameters(str(tmp_path / "pose.params"))
    cfg = load_config(SEPARATE, [f"data.prepared={out}", f"runs={tmp_path}", "data.size=64",
                                 "data.clip_len=4", "data.workers=0", "train.epochs=1",
                                 "model.name=softargmax_multitask_tiny",
                                 "data.val_share=0.0", "train.lr_schedule=step",  # one video
                                 f"train.init_from={tmp_path}/pose.params"])
    train_action.run(cfg, [mx.cpu()])
    with open(os.path.join(cfg["out"], "metrics.jsonl")) as f:
        lines = [json.loads(line) for line in f]
    epoch = [line for line in lines if line.get("kind") == "epoch"][-1]
    assert np.isfinite(epoch["loss_aggregation"]) and np.isfinite(epoch["loss_pose_action"])
    # stage 1: the pose part is the pose model's, frozen; the action streams took one step
    final = mx.nd.load(os.path.join(cfg["out"], "final.params"))
    for name, value in mx.nd.load(str(tmp_path / "pose.params")).items():
        assert np.array_equal(final[name].asnumpy(), value.asnumpy()), name
