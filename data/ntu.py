"""NTU RGB-D 60 (Shahroudy et al. 2016): names SsssCcccPpppRrrrAaaa_rgb.avi.

S setup, C camera, P performer (the subject), R replication, A action (1..60).
Protocols (paper Sec. 4.1 and appendix 6): xsub (train performers below), xview (cameras 2, 3
train, camera 1 tests), and the paper's small subsets for ablations:

- ``xview-s``: xview without performers > 5. Paper: 3,839 train / 1,917 test.
- ``xsub-s``: the videos of xview-s (performers 1-5, all cameras), split by xsub's training
  performers (1, 2, 4, 5 train; 3 tests). Paper: 4,317 train / 1,439 test.
- ``xsub-s-text``: the rule the paper's text gives for xsub-s ("all the samples of camera 1 ...
  subject ID larger than 10 discarded").

Why xsub-s is not the text's rule: the text's rule cannot give the paper's own counts. The
complete NTU-60 list (56,880 videos: 158 setup-performer pairs, each with 3 cameras x 2
replications x 60 actions) has 3,600 train / 2,760 test under it (3,597 / 2,759 without the 302
samples with missing skeletons), and a copy missing videos only lowers these, so 4,317 train is
out of reach. The counts do follow from performers 1-5: 4,320 / 1,440 on the complete list, and
the paper's two subsets then hold the same videos, as their totals say (3,839 + 1,917 =
4,317 + 1,439 = 5,756 = 5,760 - 4; the paper's copy lacked four videos, three of camera 1 and
one of performer 3). The "about 1/10th" of the text fits both subsets (5,760 of 56,880).

``python -m data.ntu --skeleton FILE`` prints what a .skeleton file holds (``read_skeleton``):
its frames, its bodies, and the first joint of the first frame (camera xyz and colour xy).

Skeletons: one .skeleton text file a video, Kinect v2 bodies.

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

Protocols: the video names', for a folder of .skeleton files: ``count_splits``
(``python -m data.protocols --dataset ntu --pose``).
"""
import argparse
import collections
import os
import re
import sys

import numpy as np

from data.joints import KINECT, NTU_FROM_KINECT, to_common

NAME = "ntu"
RESIZE = (454, 256)  # (width, height), paper Table 2
FPS = 30
STRIDE = 8
VIDEO_EXTS = (".avi", ".mp4")
CLASSES = (
    "drink water", "eat meal/snack", "brushing teeth", "brushing hair", "drop", "pickup",
    "throw", "sitting down", "standing up (from sitting position)", "clapping", "reading",
    "writing", "tear up paper", "wear jacket", "take off jacket", "wear a shoe",
    "take off a shoe", "wear on glasses", "take off glasses", "put on a hat/cap",
    "take off a hat/cap", "cheer up", "hand waving", "kicking something", "reach into pocket",
    "hopping (one foot jumping)", "jump up", "make a phone call/answer phone",
    "playing with phone/tablet", "typing on a keyboard", "pointing to something with finger",
    "taking a selfie", "check time (from watch)", "rub two hands together", "nod head/bow",
    "shake head", "wipe face", "salute", "put the palms together",
    "cross hands in front (say stop)", "sneeze/cough", "staggering", "falling",
    "touch head (headache)", "touch chest (stomachache/heart pain)", "touch back (backache)",
    "touch neck (neckache)", "nausea or vomiting condition",
    "use a fan (with hand or paper)/feeling warm", "punching/slapping other person",
    "kicking other person", "pushing other person", "pat on back of other person",
    "point finger at the other person", "hugging other person", "giving something to other person",
    "touch other person's pocket", "handshaking", "walking towards each other",
    "walking apart from each other",
)
XSUB_TRAIN_SUBJECTS = frozenset(
    (1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38))
XVIEW_TRAIN_CAMERAS = frozenset((2, 3))
SMALL_SUBJECTS = 5  # xview-s and xsub-s keep performers 1..5 (paper appendix 6)
TEXT_XSUB_S_SUBJECTS, TEXT_XSUB_S_CAMERA = 10, 1  # xsub-s as the paper's text words it

_PATTERN = re.compile(r"^S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})(?:_rgb)?$")


def parse(stem):
    """'S001C002P003R002A013_rgb' -> sample fields; ValueError for any other name."""
    m = _PATTERN.match(stem)
    if not m:
        raise ValueError(f"not an NTU name (SsssCcccPpppRrrrAaaa_rgb): {stem!r}")
    setup, camera, subject, replication, action = map(int, m.groups())
    if not 1 <= action <= len(CLASSES):
        raise ValueError(f"NTU action {action} outside 1..{len(CLASSES)}: {stem!r}")
    return dict(id=f"S{setup:03d}C{camera:03d}P{subject:03d}R{replication:03d}A{action:03d}",
                label=action - 1, subject=subject, view=camera, setup=setup,
                repetition=replication)


def _xsub(s):
    return "train" if s["subject"] in XSUB_TRAIN_SUBJECTS else "test"


def _xview(s):
    return "train" if s["view"] in XVIEW_TRAIN_CAMERAS else "test"


def _xsub_s_text(s):
    keep = s["view"] == TEXT_XSUB_S_CAMERA and s["subject"] <= TEXT_XSUB_S_SUBJECTS
    return _xsub(s) if keep else None


PROTOCOLS = {
    "xsub": _xsub,
    "xview": _xview,
    "xview-s": lambda s: _xview(s) if s["subject"] <= SMALL_SUBJECTS else None,
    "xsub-s": lambda s: _xsub(s) if s["subject"] <= SMALL_SUBJECTS else None,
    "xsub-s-text": _xsub_s_text,
}


# ---- the skeleton files ----------------------------------------------------------------------
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
    this module's protocols; names that do not parse are not counted."""
    from data.protocols import counts, list_names, parse_names
    ntu = sys.modules[__name__]
    names = list_names(path, (".skeleton",) if os.path.isdir(path) else None)
    samples, _ = parse_names(ntu, names)
    return counts(ntu, samples)



# ---- ground truth of the multitask action clips (python -m data.prepare --skeletons) ----------
LAYOUT = "pa20"  # the Table 4-5 pose model's layout (MPII + Human3.6M + NTU, 20 joints)


def ground_truth(path):
    """A .skeleton file -> the annotation arrays data/multitask/clips.py reads, one row a frame
    of the file, in colour-frame pixels (1920 x 1080) and millimetres:

        keypoints (T, 20, 3)  the first body's 20 joints (NTU_FROM_KINECT) in the pa20 layout,
                              sides swapped as data/joints.py says; x, y its colour pixels, the
                              third column 1 where Kinect tracked or inferred the joint
                              (tracking state > 0), else 0
        xyz (T, 20, 3)        the same joints in Kinect camera space in mm (x to the sensor's
                              left, y up, z forward: no camera model maps it to the colour
                              pixels, so it is not the format's joints_3d); NaN where the
                              keypoint is 0; z is the depth of the pose targets
        boxes (T, 4)          the valid joints' box (as data/multitask/pose_records.py); a
                              frame without the body takes the box of the nearest frame with it
        layout                "pa20"

    The first body is the one tracked first (the actor; as data/multitask/pose_records.py).
    ValueError naming the file when no body has a valid joint in any frame."""
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


def describe_skeleton(path):
    """The lines ``python -m data.ntu --skeleton`` prints for a .skeleton file."""
    skeleton = read_skeleton(path)
    lines = [f"{path}: {skeleton.frames} frames, {len(skeleton.bodies)} bodies"]
    lines += [f"body {b.id}: in {int(b.present.sum())} of {skeleton.frames} frames"
              for b in skeleton.bodies]
    first = [(int(b.present.argmax()), k) for k, b in enumerate(skeleton.bodies)]
    if not first:
        return lines + ["no body in any frame"]
    t, k = min(first)
    if t > 0:
        lines.append("frame 1 has no body")
    body = skeleton.bodies[k]
    x, y, z = body.xyz[t, 0]
    cx, cy = body.color[t, 0]
    lines.append(f"frame {t + 1}, body {body.id}, joint 1 ({KINECT[0]}): camera xyz {x:.7g} "
                 f"{y:.7g} {z:.7g} m, colour xy {cx:.7g} {cy:.7g} px")
    return lines


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="What an NTU RGB+D .skeleton file holds.")
    parser.add_argument("--skeleton", required=True, help="a .skeleton file")
    return parser.parse_args(argv)


def main(argv=None):
    from common.errors import exit_on_error
    args = parse_args(argv)
    with exit_on_error():
        lines = describe_skeleton(args.skeleton)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
