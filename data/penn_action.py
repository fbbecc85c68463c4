"""Penn Action as a video dataset for action recognition (Luvizon et al. 2018, Table 3).

The release (data/penn.py reads its label files): ROOT/frames/NNNN/000001.jpg ... and
ROOT/labels/NNNN.mat, 2,326 sequences of 15 actions. Here each sequence is a sample: its id the
four digits, its label the .mat's action (CLASSES, data.penn's order), and the protocol
"official" the .mat's ``train`` flag (1 train, -1 test), the split Table 3 reports.

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
                          (data.penn.read_labels, counted in the index as ``boxes_filled``)
    layout                "pa16"

No 3D: Penn Action is 2D, so the annotation has no depth and a multitask run that trains the
pose term (train.multitask_pose_weight > 0) masks every z target (data/multitask_clips.py).
The video keeps the frames' own size (RESIZE None): the multitask model crops the person box to
256 x 256, and the frames are at most 640 x 480 already.
"""
import os

import cv2
import numpy as np

from . import penn
from .joints import to_common

NAME = "penn_action"
RESIZE = None  # keep the frames' size (the width and height rounded down to even numbers)
FPS = 30  # the release gives frames, no rate; its clips come from 30 fps video
STRIDE = 2  # test frame step: the middle of Appendix B's training subsampling 1-3 (ruling)
VIDEO_EXTS = ()  # no videos: samples come from the label files
CLASSES = penn.CLASSES
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
    for path in penn.label_files(folder):
        try:
            parse(os.path.splitext(os.path.basename(path))[0])
            video = penn.read_labels(path)
        except (OSError, ValueError) as err:
            skipped.append((path, str(err)))
            continue
        samples.append(dict(id=video["id"], label=video["label"], view=video["view"],
                            train=video["train"], path=path, labels=path,
                            frames_dir=os.path.join(frames_root, video["id"]),
                            frames=video["frames"], boxes_filled=video["boxes_filled"]))
    return samples, skipped


def ground_truth(video):
    """data.penn.read_labels' dict -> the annotation arrays (module docstring)."""
    points, _ = to_common(video["joints"], "penn", LAYOUT)  # invisible joints keep their x, y
    _, valid = to_common(video["joints"], "penn", LAYOUT, video["visible"])
    keypoints = np.concatenate([points, valid[..., None]], axis=-1)  # (T, 16, 3)
    return dict(keypoints=keypoints.astype(np.float32),
                boxes=video["boxes"].astype(np.float32), layout=LAYOUT)


def read_sample(sample):
    """A sample of ``list_samples`` -> (frames (T, H, W, 3) uint8 RGB, fps, ground truth).
    ValueError naming the file for a missing or unreadable frame, or frames of two sizes."""
    video = penn.read_labels(sample["labels"])
    root = os.path.dirname(os.path.dirname(sample["frames_dir"]))
    frames = []
    for path in penn.frame_paths(root, video["id"], video["frames"]):
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
