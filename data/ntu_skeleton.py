"""NTU RGB+D skeletons (Shahroudy et al. 2016): one .skeleton text file a video, Kinect v2 bodies.

The format, as the authors' reader takes it (github shahroudy/NTURGB-D,
Matlab/read_skeleton_file.m): whitespace-separated numbers, in this order

    frame count
    per frame: body count, then per body
        bodyID clipedEdges handLeftConfidence handLeftState handRightConfidence
        handRightState isRestricted leanX leanY trackingState       (one line, 10 values)
        joint count (25)
        per joint: x y z depthX depthY colorX colorY orientationW orientationX orientationY
                   orientationZ trackingState                        (one line, 12 values)

x y z are Kinect camera space in metres (y up, x towards the sensor's left); colorX colorY are
pixels of the 1920 x 1080 colour frame; joint order data.joints.KINECT (the paper uses 20 of the
25: data.joints.NTU, NTU_FROM_KINECT).

``read_skeleton`` -> Skeleton(frames T, bodies): one Body per bodyID, in order of first
appearance, with per-video arrays xyz (T, 25, 3), depth (T, 25, 2), color (T, 25, 2), tracking
(T, 25) and present (T,); a frame where the body is absent is NaN (tracking 0).

Protocols: the video names' (data.ntu), for a folder of .skeleton files: ``count_splits``.
"""
import collections
import os

import numpy as np

from . import ntu
from .joints import KINECT

NAME = "ntu_skeleton"
JOINTS = KINECT
BODY_VALUES, JOINT_VALUES = 10, 12
COLOUR_SIZE = (1920, 1080)  # (width, height): the pixels of colorX, colorY

Body = collections.namedtuple("Body", "id xyz depth color tracking present")
Skeleton = collections.namedtuple("Skeleton", "frames bodies")


class _Reader:
    """The numbers of a .skeleton file, taken in order; an error names the file and place."""

    def __init__(self, path, text):
        self.path, self.tokens, self.at = path, text.split(), 0
        self.where = "the frame count"

    def take(self, count=1):
        if self.at + count > len(self.tokens):
            raise ValueError(f"{self.path}: the file ends in {self.where}")
        values = self.tokens[self.at:self.at + count]
        self.at += count
        return values

    def integer(self):
        token = self.take()[0]
        try:
            value = int(token)
        except ValueError:
            raise ValueError(f"{self.path}: {token!r} is not a whole number ({self.where})") \
                from None
        if value < 0:
            raise ValueError(f"{self.path}: {value} is not a count ({self.where})")
        return value

    def numbers(self, count):
        tokens = self.take(count)
        try:
            return [float(t) for t in tokens]
        except ValueError:
            bad = next(t for t in tokens if not _is_number(t))
            raise ValueError(f"{self.path}: {bad!r} is not a number ({self.where})") from None


def _is_number(token):
    try:
        float(token)
        return True
    except ValueError:
        return False


def read_skeleton(path):
    """A .skeleton file -> Skeleton(frames, bodies); ValueError naming the file and the place
    (frame, body, joint) of the first thing that does not fit the format."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such file: {path}")
    with open(path, "rb") as f:
        try:
            text = f.read().decode("ascii")
        except UnicodeDecodeError:
            raise ValueError(f"{path} is not a text .skeleton file") from None
    reader = _Reader(path, text)
    frames = reader.integer()
    seen = {}  # bodyID -> per-frame rows [(t, joints (25, 12))]
    for t in range(frames):
        reader.where = f"frame {t + 1} of {frames} (its body count)"
        for b in range(reader.integer()):
            reader.where = f"frame {t + 1}, body {b + 1}"
            body = reader.take(BODY_VALUES)
            body_id = body[0]
            reader.where = f"frame {t + 1}, body {b + 1} (its joint count)"
            count = reader.integer()
            if count != len(KINECT):
                raise ValueError(f"{path}: frame {t + 1}, body {b + 1} has {count} joints, not "
                                 f"{len(KINECT)}")
            joints = []
            for j in range(count):
                reader.where = f"frame {t + 1}, body {b + 1}, joint {j + 1}"
                joints.append(reader.numbers(JOINT_VALUES))
            seen.setdefault(body_id, []).append((t, np.array(joints)))
    if reader.at != len(reader.tokens):
        raise ValueError(f"{path}: {len(reader.tokens) - reader.at} values after the last of "
                         f"{frames} frames")
    return Skeleton(frames, [_body(body_id, rows, frames) for body_id, rows in seen.items()])


def _body(body_id, rows, frames):
    values = np.full((frames, len(KINECT), JOINT_VALUES), np.nan)
    present = np.zeros(frames, bool)
    for t, joints in rows:
        values[t], present[t] = joints, True
    tracking = np.where(present[:, None], np.nan_to_num(values[..., 11]), 0).astype(int)
    return Body(body_id, values[..., 0:3], values[..., 3:5], values[..., 5:7], tracking, present)


def count_splits(path):
    """A folder of .skeleton files (or a list file of names) -> {protocol: {train, test}} under
    data.ntu's protocols; names that do not parse are not counted."""
    from .protocols import counts, list_names, parse_names
    names = list_names(path, (".skeleton",) if os.path.isdir(path) else None)
    samples, _ = parse_names(ntu, names)
    return counts(ntu, samples)


# ---- ground truth of the multitask action clips (python -m data.prepare --skeletons) ----------
LAYOUT = "pa20"  # the Table 4-5 pose model's layout (MPII + Human3.6M + NTU, 20 joints)


def ground_truth(path):
    """A .skeleton file -> the annotation arrays data/multitask_clips.py reads, one row a frame
    of the file, in colour-frame pixels (1920 x 1080) and millimetres:

        keypoints (T, 20, 3)  the first body's 20 joints (NTU_FROM_KINECT) in the pa20 layout,
                              sides swapped as data/joints.py says; x, y its colour pixels, the
                              third column 1 where Kinect tracked or inferred the joint
                              (tracking state > 0), else 0
        xyz (T, 20, 3)        the same joints in Kinect camera space in mm (x to the sensor's
                              left, y up, z forward: no camera model maps it to the colour
                              pixels, so it is not the format's joints_3d); NaN where the
                              keypoint is 0; z is the depth of the pose targets
        boxes (T, 4)          the valid joints' box (as data/pose_records.py); a frame without
                              the body takes the box of the nearest frame with it
        layout                "pa20"

    The first body is the one tracked first (the actor; as data/pose_records.py). ValueError
    naming the file when no body has a valid joint in any frame."""
    from .joints import NTU_FROM_KINECT, to_common
    skeleton = read_skeleton(path)
    if not skeleton.bodies:
        raise ValueError(f"{path}: no body in any of its {skeleton.frames} frames")
    body = skeleton.bodies[0]
    tracked = body.tracking[:, NTU_FROM_KINECT] > 0
    points, valid = to_common(body.color[:, NTU_FROM_KINECT], "ntu", LAYOUT, tracked)
    xyz, _ = to_common(1000.0 * body.xyz[:, NTU_FROM_KINECT], "ntu", LAYOUT, tracked,
                       fill=np.nan)
    xyz[~valid] = np.nan
    seen = np.flatnonzero(valid.any(1))
    if not len(seen):
        raise ValueError(f"{path}: the first body has no tracked joint in any frame")
    lo = np.where(valid[..., None], points, np.inf).min(1)
    hi = np.where(valid[..., None], points, -np.inf).max(1)
    nearest = seen[np.abs(np.arange(skeleton.frames)[:, None] - seen[None]).argmin(1)]
    boxes = np.concatenate([lo, hi], 1)[nearest]
    keypoints = np.concatenate([points, valid[..., None]], axis=-1)
    return dict(keypoints=keypoints.astype(np.float32), xyz=xyz.astype(np.float32),
                boxes=boxes.astype(np.float32), layout=LAYOUT)
