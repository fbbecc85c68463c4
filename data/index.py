"""The files a prepared dataset directory holds, each written by one function and read by one.

    DIR/index.jsonl      one sample a line: id, path (relative to DIR), label, subject, view,
                         repetition, frames, fps, width, height (+ dataset-specific fields)
    DIR/splits.json      {"dataset": NAME, "protocols": {protocol: {"train": [ids], "test": [ids]}}}
    DIR/skipped.csv      name,reason: every input that is not in the index, and why
    DIR/videos/ID.avi    the resized video (MJPG)
    DIR/annotations/ID.npz   ground truth where a dataset ships it (the synthetic benchmark):
                         keypoints (T, 17, 3) and boxes (T, 4) in pixels of the resized video
    BOXES.json           {"dataset", "detector", "threshold", "videos": {id: {"box": [x1, y1, x2,
                         y2], "frames_seen", "frames_with_person", "fallback"}}}: one union person
                         box a video (detect_persons.py); fallback: no person, the full frame
    POSES/ID.npy         per-frame keypoints (T, 17, 3) as (x, y, confidence or visible) in
                         pixels of the resized video: the video model's pose targets
"""
import csv
import json
import os

import numpy as np


def atomic_write_text(path, text):
    """Write via a temporary file and rename, so a reader never sees half a file."""
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


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
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["name", "reason"])
        writer.writerows(rows)
    os.replace(tmp, path)


def read_skipped(path):
    with open(path, newline="") as f:
        return [tuple(row) for row in list(csv.reader(f))[1:]]


def read_annotation(path):
    """ID.npz -> keypoints (T, 17, 3) float32, boxes (T, 4) float32."""
    with np.load(path) as z:
        return z["keypoints"].astype(np.float32), z["boxes"].astype(np.float32)


def write_poses(poses_dir, sample_id, keypoints):
    os.makedirs(poses_dir, exist_ok=True)
    path = os.path.join(poses_dir, sample_id + ".npy")
    tmp = f"{path}.tmp{os.getpid()}.npy"
    np.save(tmp, np.asarray(keypoints, np.float32))
    os.replace(tmp, path)


def read_poses(poses_dir, sample_id):
    return np.load(os.path.join(poses_dir, sample_id + ".npy"))


def write_boxes(path, dataset, detector, threshold, videos):
    """``videos``: id -> dict(box=[x1, y1, x2, y2], frames_seen, frames_with_person, fallback)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    text = json.dumps(dict(dataset=dataset, detector=detector, threshold=threshold,
                           videos=videos), indent=1, sort_keys=True)
    atomic_write_text(path, text)


def read_boxes(path):
    """-> ({id: box (4,) float32}, the whole record)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no person boxes at {path}: run detect_persons.py first")
    with open(path) as f:
        record = json.load(f)
    boxes = {k: np.array(v["box"], np.float32) for k, v in record["videos"].items()}
    return boxes, record
