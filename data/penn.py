"""Penn Action (Zhang et al. 2013; paper Sec. 5.1, 5.4): 2,326 videos of 15 actions, 13 joints.

The official release (its README):

    frames/NNNN/000001.jpg ...   the video's frames, RGB, at most 640 x 480
    labels/NNNN.mat              MATLAB v5, one variable each:
        action      'tennis_serve'                     (one of CLASSES)
        pose        'back'                             coarse viewpoint
        x, y        (nframes, 13)                      joint pixel coordinates
        visibility  (nframes, 13) logical
        train       1 (training video) or -1 (test video)
        bbox        (nframes, 4) [x1, y1, x2, y2]      person box of each frame
        dimensions  [height, width, nframes]
        nframes     the number of frames

Joints (data.joints.PENN): head, then left/right shoulder, elbow, wrist, hip, knee, ankle.
Protocol "official": the ``train`` flag (1 train, -1 test), which the paper follows (Table 3).

Missing boxes: some label files have fewer bbox rows than frames (the last frame has none). A
missing row gets the last given box repeated (the box of a neighbouring frame of the same
person), and ``boxes_filled`` counts them; a file without any box, or with more rows than
frames, is an error naming it.
"""
import os

import numpy as np

from .joints import PENN
from .mpii import load_mat

NAME = "penn"
JOINTS = PENN
CLASSES = ("baseball_pitch", "baseball_swing", "bench_press", "bowl", "clean_and_jerk",
           "golf_swing", "jump_rope", "jumping_jacks", "pullup", "pushup", "situp", "squat",
           "strum_guitar", "tennis_forehand", "tennis_serve")  # the mat files' action strings
PROTOCOLS = ("official",)


def _text(value):
    return str(np.asarray(value).reshape(-1)[0]) if np.asarray(value).size else ""


def _number(mat, key, path):
    value = np.asarray(mat[key]).reshape(-1)
    if value.size != 1:
        raise ValueError(f"{path}: {key} must be one number, not {value.size} values")
    return float(value[0])


def read_labels(path):
    """labels/NNNN.mat -> {id, action, label, view, train, frames, size (h, w), joints (T, 13, 2),
    visible (T, 13) bool, boxes (T, 4) [x1, y1, x2, y2], boxes_filled}."""
    mat = load_mat(path)
    missing = [k for k in ("action", "x", "y", "visibility", "train", "bbox", "nframes")
               if k not in mat]
    if missing:
        raise ValueError(f"{path} has no {missing[0]!r}: not a Penn Action label file")
    frames = int(_number(mat, "nframes", path))
    x, y = (np.asarray(mat[k], float) for k in ("x", "y"))
    visible = np.asarray(mat["visibility"]) > 0
    for key, value in (("x", x), ("y", y), ("visibility", visible)):
        if value.shape != (frames, len(JOINTS)):
            raise ValueError(f"{path}: {key} has shape {value.shape}, expected "
                             f"({frames}, {len(JOINTS)}) for {frames} frames")
    boxes = np.asarray(mat["bbox"], float).reshape(-1, 4) if np.asarray(mat["bbox"]).size \
        else np.zeros((0, 4))
    if not len(boxes) or len(boxes) > frames:
        raise ValueError(f"{path}: bbox has {len(boxes)} rows for {frames} frames")
    filled = frames - len(boxes)
    boxes = np.concatenate([boxes, np.repeat(boxes[-1:], filled, axis=0)])
    action = _text(mat["action"])
    if action not in CLASSES:
        raise ValueError(f"{path}: unknown action {action!r}")
    train = _number(mat, "train", path)
    if train not in (1, -1):
        raise ValueError(f"{path}: train is {train:g}; it must be 1 (train) or -1 (test)")
    size = np.asarray(mat.get("dimensions", np.zeros(3)), float).reshape(-1)[:2].astype(int)
    return dict(id=os.path.splitext(os.path.basename(path))[0], action=action,
                label=CLASSES.index(action), view=_text(mat.get("pose", "")), train=train == 1,
                frames=frames, size=tuple(int(v) for v in size),
                joints=np.stack([x, y], axis=-1), visible=visible, boxes=boxes,
                boxes_filled=filled)


def label_files(folder):
    """The NNNN.mat files of a labels folder, sorted."""
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"no such folder: {folder}")
    files = sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.endswith(".mat"))
    if not files:
        raise FileNotFoundError(f"no .mat label file in {folder}")
    return files


def frame_paths(root, video_id, frames):
    """frames/NNNN/000001.jpg ... for a video of ``frames`` frames, under the dataset ``root``."""
    return [os.path.join(root, "frames", video_id, f"{t:06d}.jpg") for t in range(1, frames + 1)]


def count_splits(path):
    """The labels folder -> {"official": {"train": videos, "test": videos}} by the train flag."""
    out = {"official": {"train": 0, "test": 0}}
    for f in label_files(path):
        out["official"]["train" if read_labels(f)["train"] else "test"] += 1
    return out
