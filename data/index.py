"""The files a prepared dataset directory holds, each written by one function and read by one.

    DIR/index.jsonl      one sample a line: id, path (relative to DIR), label, subject, view,
                         repetition, frames, fps, width, height (+ dataset-specific fields)
    DIR/splits.json      {"dataset": NAME, "protocols": {protocol: {"train": [ids], "test": [ids]}}}
    DIR/skipped.csv      name,reason: every input that is not in the index, and why
    DIR/videos/ID.avi    the resized video (MJPG)
    DIR/annotations/ID.npz   ground truth where a dataset ships it (the synthetic benchmark;
                         also RAW/ID.npz beside its rendered videos), arrays of one NumPy .npz:
                         keypoints (T, 17, 3) float32 (x, y, visible) and boxes (T, 4) float32
                         x1, y1, x2, y2 in pixels of the resized video (pixel centres at
                         integers); read_annotation -> (keypoints, boxes). 3D, all or none:
                         joints_3d (T, 17, 3) float32 mm in the camera's frame (Human3.6M's: x
                         right, y down, z forward from the camera, z > 0), COCO joint order;
                         camera (4,) float32 fx, fy, cx, cy in pixels of the same video, so that
                         keypoints[..., 0] = fx * X / Z + cx and keypoints[..., 1] = fy * Y / Z
                         + cy; person_height_mm () float, the person's height that sizes
                         joints_3d. Extras: object_class () int, object_box (4,) float32
                         (the synthetic scene's object). read_annotation_3d -> dict of all;
                         an annotation without the 3D arrays is a ValueError naming the file.
                         Real datasets (data.prepare: Penn Action, NTU --skeletons) write
                         keypoints (T, J, 3) in the pose model's layout instead, named by
                         layout () str ("pa16", "pa20"; data/joints.py), NTU also xyz (T, J, 3)
                         float32 Kinect camera mm (NaN untracked); read by data/multitask/clips.py
    BOXES.json           {"dataset", "detector", "threshold", "videos": {id: {"box": [x1, y1, x2,
                         y2], "frames_seen", "frames_with_person", "fallback"}}}: one union person
                         box a video (detect_persons.py); fallback: no person, the full frame
    POSES/ID.npy         per-frame keypoints (T, 17, 3) in pixels of the resized video: the
                         video model's pose targets. The third column has one meaning per
                         kind of file: pseudo-poses (pseudo_poses.py) hold the heatmap's
                         probability in (0, 1); ground-truth poses (the synthetic benchmark's,
                         demo.py) hold COCO visibility 0 / 1 / 2. A joint is a target when
                         the column exceeds data.pose_min_confidence

Every file is written to PATH.tmpPID, checked, and renamed to PATH only when whole, so a full disk
or a killed run never leaves a partial file under a final name. Any failure removes the temporary
and is an OSError whose ``filename`` is PATH (errors.one_line prints "PATH: reason").
"""
import csv
import io
import json
import os

import numpy as np

from common.files import atomic_write_bytes, atomic_write_text


def _npy_bytes(save, *args, **kwargs):
    buffer = io.BytesIO()
    save(buffer, *args, **kwargs)
    return buffer.getvalue()


def write_index(prepared, samples):
    lines = [json.dumps(s, sort_keys=True) for s in sorted(samples, key=lambda s: s["id"])]
    atomic_write_text(os.path.join(prepared, "index.jsonl"), "\n".join(lines) + "\n")


def read_index(prepared):
    path = os.path.join(prepared, "index.jsonl")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no sample index at {path}: run `python -m data.prepare` first")
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def write_splits(prepared, dataset_name, splits):
    text = json.dumps({"dataset": dataset_name, "protocols": splits}, indent=1)
    atomic_write_text(os.path.join(prepared, "splits.json"), text)


def read_splits(prepared):
    with open(os.path.join(prepared, "splits.json")) as f:
        return json.load(f)


def write_skipped(path, rows):
    """rows: (name, reason). Always written, so an empty report says 'nothing was skipped'."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(["name", "reason"])
    writer.writerows(rows)
    atomic_write_text(path, buffer.getvalue())


def read_skipped(path):
    with open(path, newline="") as f:
        return [tuple(row) for row in list(csv.reader(f))[1:]]


ANNOTATION_3D = ("joints_3d", "camera", "person_height_mm")


def write_annotation(path, keypoints, boxes, joints_3d=None, camera=None, person_height_mm=None,
                     **extra):
    """ID.npz: keypoints (T, 17, 3), boxes (T, 4), optionally the 3D ground truth (joints_3d
    (T, 17, 3) mm, camera (4,) fx, fy, cx, cy, person_height_mm: all or none), and any ``extra``
    arrays (the synthetic benchmark's object_class and object_box)."""
    arrays = dict(keypoints=np.asarray(keypoints, np.float32), boxes=np.asarray(boxes, np.float32))
    given = dict(zip(ANNOTATION_3D, (joints_3d, camera, person_height_mm)))
    if any(v is not None for v in given.values()):
        missing = [k for k, v in given.items() if v is None]
        if missing:
            raise ValueError(f"{path}: 3D annotation without {', '.join(missing)}")
        if np.shape(joints_3d) != arrays["keypoints"].shape or np.shape(camera) != (4,):
            raise ValueError(f"{path}: joints_3d {np.shape(joints_3d)} and camera "
                             f"{np.shape(camera)} do not fit keypoints "
                             f"{arrays['keypoints'].shape}")
        arrays.update(joints_3d=np.asarray(joints_3d, np.float32),
                      camera=np.asarray(camera, np.float32),
                      person_height_mm=np.float64(person_height_mm))
    atomic_write_bytes(path, _npy_bytes(np.savez, **arrays, **extra), make_parent=True)


def read_annotation(path):
    """ID.npz -> keypoints (T, 17, 3) float32, boxes (T, 4) float32."""
    with np.load(path) as z:
        return z["keypoints"].astype(np.float32), z["boxes"].astype(np.float32)


def read_annotation_3d(path):
    """ID.npz -> dict of every array: keypoints, boxes, joints_3d, camera (float32 arrays),
    person_height_mm (float) and any extras (0-d arrays as Python numbers). ValueError naming
    the file if it has no 3D ground truth (written before the benchmark stored it)."""
    with np.load(path) as z:
        record = {k: z[k] for k in z.files}
    missing = [k for k in ANNOTATION_3D if k not in record]
    if missing:
        raise ValueError(f"{path}: no 3D ground truth ({', '.join(missing)} missing): an "
                         f"annotation from before the synthetic benchmark stored it; render "
                         f"and prepare it again")
    record = {k: v.item() if v.ndim == 0 else v for k, v in record.items()}
    for k in ("keypoints", "boxes", "joints_3d", "camera"):
        record[k] = record[k].astype(np.float32)
    record["person_height_mm"] = float(record["person_height_mm"])
    return record


def write_poses(poses_dir, sample_id, keypoints):
    path = os.path.join(poses_dir, sample_id + ".npy")
    atomic_write_bytes(path, _npy_bytes(np.save, np.asarray(keypoints, np.float32)),
                       make_parent=True)


def read_poses(poses_dir, sample_id):
    return np.load(os.path.join(poses_dir, sample_id + ".npy"))


def write_boxes(path, dataset, detector, threshold, videos):
    """``videos``: id -> dict(box=[x1, y1, x2, y2], frames_seen, frames_with_person, fallback)."""
    text = json.dumps(dict(dataset=dataset, detector=detector, threshold=threshold,
                           videos=videos), indent=1, sort_keys=True)
    atomic_write_bytes(path, text.encode("utf-8"), make_parent=True)


def read_boxes(path):
    """-> ({id: box (4,) float32}, the whole record)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no person boxes at {path}: run detect_persons.py first")
    with open(path) as f:
        record = json.load(f)
    boxes = {k: np.array(v["box"], np.float32) for k, v in record["videos"].items()}
    return boxes, record
