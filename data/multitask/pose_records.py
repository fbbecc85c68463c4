"""The real pose datasets' annotations as one table of items in a common joint layout, for the
soft-argmax pose model of Luvizon et al. 2018 (paper Sec. 5.1-5.4, Appendix B). Pure reading:
the adapters (data/mpii.py, h36m.py, penn_action.py, ntu.py) read the files; here each row
becomes an item with its crop region and its targets in ``layout`` (data/joints.py).

Records, a dict of arrays over the N items of one source and split:
    path (N,)          the image file, or the video file (NTU)
    frame (N,)         the video frame (0-based) of an NTU item; -1 for an image file
    box (N, 4)         x1 y1 x2 y2 in frame pixels: the person region; the crop is this box made
                       square, x (1 + data.crop_margin) (data/multitask/pose_frames.py)
    joints (N, L, 2)   the layout's joints in frame pixels, 0-based (pixel centres at integers)
    valid (N, L)       the joint is annotated (and the dataset has it: Appendix B's mask)
    depth (N, L)       camera depth Z in mm; NaN where unknown (MPII and Penn Action are 2D)
    xyz (N, L, 3)      camera-frame joints in mm (Human3.6M); NaN elsewhere
    camera (N, 4)      fx fy cx cy of the frame's camera; NaN where unknown
    row (N,)           the item's row in its annotation file (the prediction files' order)
    group (N,)         the image, video or performance an item belongs to (validation hold-out)

Per source (data/registry.py names each source's reader here; its folder as README lists it):
- mpii: annotations/{train,valid}.json (Simple Baselines), images/. Coordinates are MATLAB's
  1-based pixels: 1 is subtracted (as HRNet and mmpose do). The box is the square of side
  200 x scale (MPII's scale: the person's height / 200 px) about the centre, so the crop's
  side, x 1.25 with the default margin, is Simple Baselines' 1.25 x 200 x scale.
- h36m: annotation_body3d/fps50/h36m_{train,test}.npz, cameras.pkl, images/ (mmpose). The box
  is the square of side 200 x scale / 1.2 (mmpose's scale is 1.2 x the joints' box / 200)
  about the centre. Train: protocol p1's training subjects, every ``frame_step``-th video frame;
  test: S9 and S11 every 64th frame (data.h36m.protocol_rows), in the file's order.
- penn_action: labels/NNNN.mat, frames/NNNN/*.jpg. The official train flag splits; every
  ``frame_step``-th frame; the box is the label's; coordinates as the labels give them.
- ntu: nturgb+d_skeletons/*.skeleton, nturgb+d_rgb/*_rgb.avi; protocol xsub's sides (Table 4
  is cross-subject). The first body of a file (the one tracked first: the actor; the second
  person of the two-person actions is not used), every ``frame_step``-th frame it is present
  in; joints tracked or inferred (tracking state > 0) are valid; the box is the valid joints'
  box in colour pixels; depth is Kinect's camera z (m -> mm).
"""
import os

import numpy as np

from data import h36m, mpii, ntu, penn_action, registry
from data.joints import LAYOUTS, NTU_FROM_KINECT, to_common

SPLITS = ("train", "test")
MPII_FILES = {"train": "train.json", "test": "valid.json"}
H36M_FILES = {"train": "h36m_train.npz", "test": "h36m_test.npz"}
NTU_PROTOCOL = "xsub"


def _square(center, side):
    """(N, 2) centres and (N,) sides -> (N, 4) boxes x1 y1 x2 y2."""
    half = np.asarray(side, float)[:, None] / 2
    return np.concatenate([center - half, center + half], axis=1)


def _records(path, frame, box, joints, valid, depth, xyz, camera, row, group):
    n = len(path)
    out = dict(path=np.asarray(path, str).reshape(n), frame=np.asarray(frame, int).reshape(n),
               box=np.asarray(box, float).reshape(n, 4), joints=np.asarray(joints, float),
               valid=np.asarray(valid, bool), depth=np.asarray(depth, float),
               xyz=np.asarray(xyz, float), camera=np.asarray(camera, float).reshape(n, 4),
               row=np.asarray(row, int).reshape(n), group=np.asarray(group, str).reshape(n))
    return out


def _check_split(split):
    if split not in SPLITS:
        raise ValueError(f"split is train or test, got {split!r}")


def mpii_records(root, split, layout, frame_step=1):
    """MPII's train.json ("train") or valid.json ("test", gt_valid.mat's order); every image
    (``frame_step`` is the video sources')."""
    _check_split(split)
    entries = mpii.read_annotations(os.path.join(root, "annotations", MPII_FILES[split]))
    n = len(entries)
    center = np.array([e["center"] for e in entries]).reshape(n, 2) - 1.0
    raw = np.array([e["joints"] for e in entries]).reshape(n, len(mpii.JOINTS), 2) - 1.0
    seen = np.array([e["visible"] for e in entries]).reshape(n, len(mpii.JOINTS))
    joints, valid = to_common(raw, "mpii", layout, seen)
    nan = np.full(valid.shape, np.nan)
    names = [e["image"] for e in entries]
    return _records([os.path.join(root, "images", m) for m in names], np.full(n, -1),
                    _square(center, 200.0 * np.array([e["scale"] for e in entries])), joints,
                    valid, nan, np.stack([nan] * 3, -1), np.full((n, 4), np.nan), np.arange(n),
                    names)


def h36m_cameras(root, ann, rows):
    """(len(rows), 4) fx fy cx cy of each row's (subject, camera) from mmpose's cameras.pkl."""
    path = os.path.join(root, "annotation_body3d", "cameras.pkl")
    cameras = h36m.read_cameras(path)
    out = []
    for r in rows:
        key = (f"S{ann['subject'][r]}", str(ann["camera"][r]))
        if key not in cameras:
            raise ValueError(f"{path} has no camera {key} (row {r} of the annotations)")
        cam = cameras[key]
        out.append(np.concatenate([np.ravel(cam["f"])[:2], np.ravel(cam["c"])[:2]]))
    return np.array(out, float).reshape(len(rows), 4)


def h36m_records(root, split, layout, frame_step=1):
    """Protocol p1's Human3.6M rows: training subjects' every ``frame_step``-th frame
    ("train"); S9 and S11 every 64th frame ("test")."""
    _check_split(split)
    path = os.path.join(root, "annotation_body3d", "fps50", H36M_FILES[split])
    ann = h36m.read_annotations(path)
    rows = h36m.protocol_rows(ann, split)
    if split == "train":
        rows = rows[(ann["frame"][rows] - 1) % frame_step == 0]
    joints, valid = to_common(ann["joints_2d"][rows], "h36m", layout, ann["visible_2d"][rows])
    xyz, has_3d = to_common(ann["joints_3d"][rows], "h36m", layout, ann["visible_3d"][rows],
                            fill=np.nan)
    xyz[~has_3d] = np.nan
    images = [os.path.join(root, "images", str(ann["imgname"][r])) for r in rows]
    return _records(images, np.full(len(rows), -1),
                    _square(ann["center"][rows], 200.0 * ann["scale"][rows] / 1.2), joints,
                    valid, xyz[..., 2], xyz, h36m_cameras(root, ann, rows), rows,
                    ann["video"][rows])


def penn_records(root, split, layout, frame_step=1):
    """Penn Action's videos of the train flag's ``split``, every ``frame_step``-th frame."""
    _check_split(split)
    parts = []
    for f in penn_action.label_files(os.path.join(root, "labels")):
        video = penn_action.read_labels(f)
        if video["train"] != (split == "train"):
            continue
        ts = np.arange(0, video["frames"], frame_step)
        joints, valid = to_common(video["joints"][ts], "penn_action", layout, video["visible"][ts])
        paths = penn_action.frame_paths(root, video["id"], video["frames"])
        parts.append(dict(path=np.array(paths)[ts], box=video["boxes"][ts], joints=joints,
                          valid=valid, row=ts, group=video["id"]))
    if not parts:
        raise ValueError(f"{root}/labels has no {split} video (train flag "
                         f"{1 if split == 'train' else -1})")
    return _concat(parts)


def _concat(parts):
    """Per-video dicts (path, box, joints, valid, row, group; frame and depth if known) -> one
    records table."""
    cat = {k: np.concatenate([p[k] for p in parts]) for k in ("box", "joints", "valid", "row")}
    n = len(cat["row"])
    frame = np.concatenate([p.get("frame", np.full(len(p["row"]), -1)) for p in parts])
    depth = np.concatenate([p.get("depth", np.full(p["valid"].shape, np.nan)) for p in parts])
    return _records(np.concatenate([p["path"] for p in parts]), frame, cat["box"],
                    cat["joints"], cat["valid"], depth,
                    np.full(cat["joints"].shape[:2] + (3,), np.nan), np.full((n, 4), np.nan),
                    cat["row"], np.concatenate([[p["group"]] * len(p["row"]) for p in parts]))


def ntu_records(root, split, layout, frame_step=1):
    """NTU's .skeleton files of protocol xsub's ``split``: the first body, every
    ``frame_step``-th frame it is present in, with the frame of its colour video."""
    _check_split(split)
    folder = os.path.join(root, "nturgb+d_skeletons")
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"no such folder: {folder}")
    parts = []
    for name in sorted(f for f in os.listdir(folder) if f.endswith(".skeleton")):
        stem = name[:-len(".skeleton")]
        if ntu.PROTOCOLS[NTU_PROTOCOL](ntu.parse(stem)) != split:
            continue
        skeleton = ntu.read_skeleton(os.path.join(folder, name))
        if not skeleton.bodies:
            continue
        body = skeleton.bodies[0]
        ts = np.flatnonzero(body.present)[::frame_step]
        tracked = body.tracking[ts][:, NTU_FROM_KINECT] > 0
        joints, valid = to_common(body.color[ts][:, NTU_FROM_KINECT], "ntu", layout, tracked)
        z, _ = to_common(1000.0 * body.xyz[ts][:, NTU_FROM_KINECT, 2:], "ntu", layout, tracked,
                         fill=np.nan)
        keep = valid.any(1)
        ts, joints, valid, z = ts[keep], joints[keep], valid[keep], z[keep, :, 0]
        lo = np.where(valid[..., None], joints, np.inf).min(1)
        hi = np.where(valid[..., None], joints, -np.inf).max(1)
        video = os.path.join(root, "nturgb+d_rgb", f"{stem}_rgb.avi")
        parts.append(dict(path=np.array([video] * len(ts)), box=np.concatenate([lo, hi], 1),
                          joints=joints, valid=valid, row=ts, group=stem, frame=ts,
                          depth=np.where(valid, z, np.nan)))
    if not parts:
        raise ValueError(f"{folder} has no {NTU_PROTOCOL} {split} skeleton with a body")
    return _concat(parts)


def read_records(source, root, split, layout, frame_step=1):
    """The records (module docstring) of ``source``'s ``split`` under ``root`` in ``layout``."""
    reader = globals()[registry.dataset(source, "reader").reader]
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; choose from {', '.join(LAYOUTS)}")
    records = reader(root, split, layout, frame_step)
    if not len(records["path"]):
        raise ValueError(f"{source} under {root} has no {split} item")
    return records
