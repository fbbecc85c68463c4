"""MPII Human Pose, single person (Andriluka et al. 2014; paper Sec. 5.1), as pose code ships it.

    annotations/train.json, valid.json, trainval.json, test.json (Simple Baselines, HRNet;
        mmpose names them mpii_train.json, mpii_val.json, ...): a JSON list of person entries
        {"image": "015601864.jpg", "center": [x, y], "scale": s, "joints": [[x, y] x 16],
         "joints_vis": [0 or 1 x 16]}; test.json has no joints. Pixel coordinates are MATLAB's,
        1-based, as the original annotation (mmpose subtracts 1 to get 0-based pixel centres);
        scale is the person's height / 200 px; a missing joint is [-1, -1] with joints_vis 0.
    annotations/gt_valid.mat (mmpose: mpii_gt_val.mat): valid.json's entries in the same order,
        as the evaluation reads them: dataset_joints (1, 16) the joint codes below,
        jnt_missing (16, N), pos_gt_src (16, 2, N) and headboxes_src (2, 2, N), the head box's
        corners [[x1, y1], [x2, y2]] of each entry.

Protocols: "valid" trains on train.json (22,246 entries) and tests on valid.json (2,958): the
split of Tompson et al. that Simple Baselines and HRNet score locally; "test" trains on
trainval.json and tests on test.json, whose labels are withheld (the MPII server scores it, the
paper's Table 2). Joints: data.joints.MPII.
"""
import json
import os

import numpy as np

from .joints import MPII

NAME = "mpii"
JOINTS = MPII
MAT_CODES = ("rank", "rkne", "rhip", "lhip", "lkne", "lank", "pelv", "thrx", "neck", "head",
             "rwri", "relb", "rsho", "lsho", "lelb", "lwri")  # gt_valid.mat's dataset_joints
HEAD_SIZE_FACTOR = 0.6  # MPII's evaluation: head size = 0.6 x the head box diagonal
# A file's name (without .json) ends with one of these -> (protocol, side); longest first.
FILE_SPLITS = (("trainval", ("test", "train")), ("train", ("valid", "train")),
               ("valid", ("valid", "test")), ("val", ("valid", "test")),
               ("test", ("test", "test")))
PROTOCOLS = ("valid", "test")


def load_mat(path):
    """A MATLAB v5 file as scipy reads it; anything else is a ValueError naming ``path``."""
    import scipy.io
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such file: {path}")
    try:
        return scipy.io.loadmat(path)
    except (ValueError, TypeError, NotImplementedError, OSError,
            scipy.io.matlab.MatReadError) as err:  # not a .mat file, or a v7.3 (HDF5) one
        raise ValueError(f"{path} is not a readable MATLAB file ({err})") from None


def read_annotations(path):
    """A Simple-Baselines MPII JSON -> list of {image, center (2,), scale, joints (16, 2),
    visible (16,) bool}, in the file's order and coordinates. Entries without joints (test.json)
    have NaN joints, none visible."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such file: {path}")
    with open(path) as f:
        try:
            entries = json.load(f)
        except ValueError as err:
            raise ValueError(f"{path} is not a JSON file ({err})") from None
    if not isinstance(entries, list):
        raise ValueError(f"{path}: an MPII annotation file is a JSON list of person entries")
    return [_entry(path, i, e) for i, e in enumerate(entries)]


def _entry(path, i, e):
    where = f"{path}: entry {i}"
    if not isinstance(e, dict) or not all(k in e for k in ("image", "center", "scale")):
        raise ValueError(f"{where} needs 'image', 'center' and 'scale'")
    try:
        center = np.asarray(e["center"], float).reshape(2)
        scale = float(e["scale"])
        joints = np.full((len(JOINTS), 2), np.nan)
        visible = np.zeros(len(JOINTS), bool)
        if "joints" in e:
            joints = np.asarray(e["joints"], float).reshape(len(JOINTS), 2)
            visible = np.asarray(e.get("joints_vis", [1] * len(JOINTS)), float) \
                .reshape(len(JOINTS)) > 0
    except (TypeError, ValueError):
        raise ValueError(f"{where}: center must be [x, y], scale a number, joints "
                         f"{len(JOINTS)} [x, y] pairs and joints_vis {len(JOINTS)} flags") \
            from None
    return dict(image=str(e["image"]), center=center, scale=scale, joints=joints,
                visible=visible)


def read_gt_valid(path):
    """gt_valid.mat -> {joints (N, 16, 2), visible (N, 16) bool, headboxes (N, 2, 2)} with
    headboxes[n] = [[x1, y1], [x2, y2]], in the file's pixel coordinates."""
    mat = load_mat(path)
    missing = [k for k in ("jnt_missing", "pos_gt_src", "headboxes_src") if k not in mat]
    if missing:
        raise ValueError(f"{path} has no {missing[0]!r}: not an MPII evaluation file "
                         f"(gt_valid.mat)")
    jnt_missing, pos, boxes = (np.asarray(mat[k], float) for k in
                               ("jnt_missing", "pos_gt_src", "headboxes_src"))
    n = pos.shape[-1] if pos.ndim == 3 else -1
    if pos.shape != (len(JOINTS), 2, n) or jnt_missing.shape != (len(JOINTS), n) \
            or boxes.shape != (2, 2, n):
        raise ValueError(f"{path}: pos_gt_src {pos.shape}, jnt_missing {jnt_missing.shape} and "
                         f"headboxes_src {boxes.shape} must be (16, 2, N), (16, N), (2, 2, N)")
    if "dataset_joints" in mat:
        codes = tuple(str(np.asarray(c).reshape(-1)[0]) for c in mat["dataset_joints"].ravel())
        if codes != MAT_CODES:
            raise ValueError(f"{path}: dataset_joints {codes} are not MPII's order {MAT_CODES}")
    return dict(joints=pos.transpose(2, 0, 1), visible=jnt_missing.T == 0,
                headboxes=boxes.transpose(2, 0, 1))


def head_sizes(headboxes):
    """(N, 2, 2) head boxes -> (N,) head sizes: 0.6 x the box diagonal (MPII's evaluation)."""
    boxes = np.asarray(headboxes, float)
    return HEAD_SIZE_FACTOR * np.linalg.norm(boxes[:, 1] - boxes[:, 0], axis=-1)


def split_of(path):
    """'.../mpii_val.json' -> ('valid', 'test'): the protocol and side a file's name says."""
    stem = os.path.splitext(os.path.basename(path))[0].lower()
    for suffix, split in FILE_SPLITS:
        if stem.endswith(suffix):
            return split
    raise ValueError(f"cannot tell the split of {path}: its name must end with train, valid "
                     f"(or val), trainval or test (.json)")


def count_splits(path):
    """A JSON file (its name says its split) or a folder of them -> {protocol: {train, test}}:
    the number of person entries of each side."""
    if os.path.isdir(path):
        files = sorted(os.path.join(path, f) for f in os.listdir(path)
                       if f.lower().endswith(".json"))
        if not files:
            raise FileNotFoundError(f"no .json annotation file in {path}")
    else:
        files = [path]
    out = {p: {"train": 0, "test": 0} for p in PROTOCOLS}
    for f in files:
        protocol, side = split_of(f)
        out[protocol][side] += len(read_annotations(f))
    return out
