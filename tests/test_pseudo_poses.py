"""The pseudo-pose pass: crop by the union box, decode, map back to the video's pixels; a model
that outputs NaN and malformed inputs are one-line errors, and nothing is written."""
import os

import mxnet as mx
import numpy as np
import pytest

import pseudo_poses
from data.index import write_boxes, write_index
from data.video import write_video
from helpers import nan_pose_checkpoint
from pseudo_poses import label_video

TINY = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "configs",
                    "pose", "synth_tiny.yaml")


class BlobFinder:
    """A stand-in pose network: every joint's heatmap is the crop's brightness pooled to the
    heatmap grid, so each joint is decoded at the brightest cell. Mirror-equivariant, as the
    real model should be, so flip averaging keeps the answer."""
    stride = 8

    def __call__(self, x):
        n, _, h, w = x.shape
        bright = x.mean(axis=1, keepdims=True)  # (n, 1, H, W)
        pooled = mx.nd.Pooling(bright, kernel=(8, 8), stride=(8, 8), pool_type="avg")
        heat = mx.nd.repeat(pooled * 10, 17, axis=1)  # (n, 17, H/8, W/8)
        return heat, mx.nd.zeros((n, 17, 2, h // 8, w // 8))


def test_keypoints_come_back_in_frame_pixels():
    T, H, W = 3, 144, 192
    yy, xx = np.mgrid[0:H, 0:W]
    truth = [(70.0, 50.0), (90.0, 100.0), (120.0, 75.0)]
    frames = np.stack([np.repeat((255 * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / 18.0))
                                 [..., None], 3, axis=2) for x, y in truth]).astype(np.uint8)
    box = np.array([50, 30, 140, 130], np.float32)  # the union box; crop is 4:3 around it
    kps = label_video(BlobFinder(), frames, box, (96, 128), radius=6.0, ctx=mx.cpu())
    assert kps.shape == (T, 17, 3)
    # The 4:3 crop of a 90x100 box maps 100 px to 128: one 8 px cell is ~6 px of the frame,
    # so the cell centre is within ~4.5 px of the blob.
    for t, (x, y) in enumerate(truth):
        err = np.hypot(kps[t, :, 0] - x, kps[t, :, 1] - y)
        assert err.max() < 5.0, (t, kps[t, 0], (x, y))
    assert ((kps[..., 2] > 0) & (kps[..., 2] < 1)).all()  # probabilities


@pytest.fixture
def inputs(tmp_path):
    """One 4-frame prepared video with its union box, and the NaN checkpoint -> main's args."""
    prepared = tmp_path / "prepared"
    os.makedirs(prepared / "videos")
    frames = np.random.RandomState(0).randint(0, 255, (4, 96, 128, 3)).astype(np.uint8)
    write_video(str(prepared / "videos" / "v1.avi"), frames, 10)
    write_index(str(prepared), [dict(id="v1", path="videos/v1.avi", label=0, frames=4)])
    boxes = str(tmp_path / "boxes.json")
    write_boxes(boxes, "synth", "test", 0.5, {"v1": dict(box=[20, 10, 100, 90], frames_seen=4,
                                                         frames_with_person=4, fallback=False)})
    ckpt = nan_pose_checkpoint(str(tmp_path / "nan.params"))
    return ["--config", TINY, "--prepared", str(prepared), "--boxes", boxes,
            "--out", str(tmp_path / "poses"), "--checkpoint", ckpt]


def error_line(args):
    with pytest.raises(SystemExit) as exit_:
        pseudo_poses.main(args)
    line = str(exit_.value.code)
    assert line.startswith("error: ") and "\n" not in line
    return line


def test_a_nan_model_is_an_error_naming_the_video(inputs, tmp_path):
    line = error_line(inputs)
    assert line.startswith("error: video v1: ") and "nan.params outputs non-finite" in line
    assert not os.path.exists(tmp_path / "poses" / "v1.npy")


@pytest.mark.parametrize("text, expected", [
    ("not json {", "is not a person boxes file (JSONDecodeError"),
    ('{"dataset": "synth"}', "is not a person boxes file (KeyError: 'videos')"),
    ('{"videos": {"v1": {"box": [1, 2, NaN, 4]}}}', "video v1's box [1.0, 2.0, nan, 4.0] is not "
                                                    "4 finite numbers"),
])
def test_a_malformed_boxes_file_is_one_line(inputs, tmp_path, text, expected):
    boxes = inputs[inputs.index("--boxes") + 1]
    with open(boxes, "w") as f:
        f.write(text)
    line = error_line(inputs)
    assert line.startswith(f"error: {boxes}") and expected in line


def test_a_malformed_index_is_one_line(inputs):
    index = os.path.join(inputs[inputs.index("--prepared") + 1], "index.jsonl")
    with open(index, "a") as f:
        f.write("{not json\n")
    assert error_line(inputs).startswith(f"error: {index} is not a sample index")
