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

``python -m data.ntu --skeleton FILE`` prints what a .skeleton file holds (data.ntu_skeleton):
its frames, its bodies, and the first joint of the first frame (camera xyz and colour xy).
"""
import argparse
import re

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


def describe_skeleton(path):
    """The lines ``python -m data.ntu --skeleton`` prints for a .skeleton file."""
    from .joints import KINECT
    from .ntu_skeleton import read_skeleton
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
    from errors import exit_on_error
    args = parse_args(argv)
    with exit_on_error():
        lines = describe_skeleton(args.skeleton)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
