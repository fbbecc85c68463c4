"""Penn Action (Zhang et al. 2013): its label files, read for pose training and testing, and
its sequences as a video dataset for action recognition (Luvizon et al. 2018, Table 3):
2,326 videos of 15 actions, 13 joints. The official release (its README):

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

As pose files (``python -m data.protocols --dataset penn_action --pose``) the label files are
counted by ``count_splits``. As a video dataset (without ``--pose``) each sequence is a sample: its
id the four digits, its label the .mat's action (CLASSES, the label files' order), and the
protocol "official" the .mat's ``train`` flag (1 train, -1 test), the split Table 3 reports.

Samples come from the label files, not from video names (``list_samples``): ``python -m
data.protocols --dataset penn_action --names ROOT`` counts them, and ``python -m data.prepare
--dataset penn_action --raw ROOT`` writes each sequence's frames as one video
(``read_sample``: the JPEGs in order, at FPS) with its ground truth beside it:

    keypoints (T, 16, 3)  the label's 13 joints in the pa16 layout of the Table 3 pose model
                          (data/joints.py: MPII + Penn "using 16 body joints"), x, y in frame
                          pixels as the label gives them (invisible joints too), the third
                          column 1 for a visible joint, 0 for an invisible one and for pa16's
                          pelvis, thorax and neck, which Penn lacks (0, 0, 0: masked)
    boxes (T, 4)          the label's bbox rows; a file one row short repeats its last box
                          (``read_labels``, counted in the index as ``boxes_filled``)
    layout                "pa16"

No 3D: Penn Action is 2D, so the annotation has no depth and a multitask run that trains the
pose term (train.multitask_pose_weight > 0) masks every z target (data/multitask/clips.py).
The video keeps the frames' own size (RESIZE None): the multitask model crops the person box to
256 x 256, and the frames are at most 640 x 480 already.
"""
import os

import cv2
import numpy as np

from data.joints import PENN, to_common
from data.mpii import load_mat

JOINTS = PENN  # the label files' 13 joints
CLASSES = ("baseball_pitch", "baseball_swing", "bench_press", "bowl", "clean_and_jerk",
           "golf_swing", "jump_rope", "jumping_jacks", "pullup", "pushup", "situp", "squat",
           "strum_guitar", "tennis_forehand", "tennis_serve")  # the mat files' action strings


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


# --- the sequences as a video dataset (data/prepare.py, data/protocols.py) ---

NAME = "penn_action"
RESIZE = None  # keep the frames' size (the width and height rounded down to even numbers)
FPS = 30  # the release gives frames, no rate; its clips come from 30 fps video
STRIDE = 2  # test frame step: the middle of Appendix B's training subsampling 1-3 (ruling)
VIDEO_EXTS = ()  # no videos: samples come from the label files
LAYOUT = "pa16"


def _official(sample):
    return "train" if sample["train"] else "test"


PROTOCOLS = {"official": _official}


def parse(stem):
    """'0001' -> {'id': '0001'}: a Penn Action sequence number (four digits)."""
    if len(stem) != 4 or not stem.isdigit():
        raise ValueError(f"not a Penn Action sequence number (NNNN): {stem!r}")
    return dict(id=stem)


def labels_folder(root):
    """ROOT (holding labels/ and frames/) or the labels folder itself -> the labels folder."""
    inner = os.path.join(root, "labels")
    return inner if os.path.isdir(inner) else root


def list_samples(root):
    """-> (samples, skipped): one sample a label file that reads (id, label, view, train,
    labels, frames_dir, frames, boxes_filled), skipped rows (file, reason) for the others."""
    folder = labels_folder(root)
    frames_root = os.path.join(os.path.dirname(os.path.abspath(folder)), "frames")
    samples, skipped = [], []
    for path in label_files(folder):
        try:
            parse(os.path.splitext(os.path.basename(path))[0])
            video = read_labels(path)
        except (OSError, ValueError) as err:
            skipped.append((path, str(err)))
            continue
        samples.append(dict(id=video["id"], label=video["label"], view=video["view"],
                            train=video["train"], path=path, labels=path,
                            frames_dir=os.path.join(frames_root, video["id"]),
                            frames=video["frames"], boxes_filled=video["boxes_filled"]))
    return samples, skipped


def ground_truth(video):
    """``read_labels``' dict -> the annotation arrays (module docstring)."""
    points, _ = to_common(video["joints"], NAME, LAYOUT)  # invisible joints keep their x, y
    _, valid = to_common(video["joints"], NAME, LAYOUT, video["visible"])
    keypoints = np.concatenate([points, valid[..., None]], axis=-1)  # (T, 16, 3)
    return dict(keypoints=keypoints.astype(np.float32),
                boxes=video["boxes"].astype(np.float32), layout=LAYOUT)


def read_sample(sample):
    """A sample of ``list_samples`` -> (frames (T, H, W, 3) uint8 RGB, fps, ground truth).
    ValueError naming the file for a missing or unreadable frame, or frames of two sizes."""
    video = read_labels(sample["labels"])
    root = os.path.dirname(os.path.dirname(sample["frames_dir"]))
    frames = []
    for path in frame_paths(root, video["id"], video["frames"]):
        if not os.path.isfile(path):
            raise ValueError(f"{path}: missing frame ({video['frames']} in the label file)")
        image = cv2.imread(path, cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError(f"{path}: not a readable image")
        if frames and image.shape != frames[0].shape:
            raise ValueError(f"{path}: {image.shape[1]}x{image.shape[0]} pixels, the first frame "
                             f"{frames[0].shape[1]}x{frames[0].shape[0]}")
        frames.append(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
    return np.stack(frames), float(FPS), ground_truth(video)
