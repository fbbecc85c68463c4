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

Every file is written to PATH.tmpPID, checked, and renamed to PATH only when whole, so a full disk
or a killed run never leaves a partial file under a final name. Any failure removes the temporary
and is an OSError whose ``filename`` is PATH (errors.one_line prints "PATH: reason").
"""
import csv
import errno
import io
import json
import os

import numpy as np


def write_via_temporary(write, path, suffix="", make_parent=False):
    """``write(tmp)`` then rename ``tmp`` to ``path``. ``suffix`` ends the temporary's name for
    writers that choose a format by extension (OpenCV); ``make_parent`` creates the folder."""
    tmp = f"{path}.tmp{os.getpid()}{suffix}"
    try:
        if make_parent:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        write(tmp)
        os.replace(tmp, path)
    except OSError as err:
        _remove_quietly(tmp)
        # makedirs(exist_ok=True) says "File exists" when a parent is a regular file.
        code = errno.ENOTDIR if isinstance(err, FileExistsError) else err.errno or errno.EIO
        reason = os.strerror(code) if code == errno.ENOTDIR else err.strerror or str(err)
        raise OSError(code, reason, path) from None
    except BaseException:  # a failed check or an interrupt: no temporary is left behind either
        _remove_quietly(tmp)
        raise


def _remove_quietly(path):
    try:
        os.remove(path)
    except OSError:
        pass  # never written, or the folder is gone: nothing to clean, and the first error counts


def atomic_write_bytes(path, data, make_parent=False):
    """Write ``data`` whole to ``path`` or not at all; a short write (full disk) is an OSError."""
    def write(tmp):
        view = memoryview(data)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        try:
            done = 0
            while done < len(view):  # os.write may write less than asked
                done += os.write(fd, view[done:])
        finally:
            os.close(fd)  # raises too: network filesystems report a full disk at close
        if os.path.getsize(tmp) != len(data):
            raise OSError(errno.EIO, f"wrote {os.path.getsize(tmp)} of {len(data)} bytes")
    write_via_temporary(write, path, make_parent=make_parent)


def atomic_write_text(path, text):
    """Write via a temporary file and rename, so a reader never sees half a file."""
    atomic_write_bytes(path, text.encode("utf-8"))


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


def write_annotation(path, keypoints, boxes, **extra):
    """ID.npz: keypoints (T, 17, 3), boxes (T, 4), and any ``extra`` arrays (the synthetic
    benchmark's object_class and object_box)."""
    atomic_write_bytes(path, _npy_bytes(np.savez, keypoints=keypoints, boxes=boxes, **extra),
                       make_parent=True)


def read_annotation(path):
    """ID.npz -> keypoints (T, 17, 3) float32, boxes (T, 4) float32."""
    with np.load(path) as z:
        return z["keypoints"].astype(np.float32), z["boxes"].astype(np.float32)


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
