"""NTU RGB-D 60 (Shahroudy et al. 2016): names SsssCcccPpppRrrrAaaa_rgb.avi.

S setup, C camera, P performer (the subject), R replication, A action (1..60).
Protocols (paper Sec. 4.1 and appendix 6): xsub, xview, and the paper's small subsets xview-s
(xview without subjects > 5) and xsub-s (xsub, camera 1 only, subjects <= 10).
"""
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


PROTOCOLS = {
    "xsub": _xsub,
    "xview": _xview,
    "xview-s": lambda s: _xview(s) if s["subject"] <= 5 else None,
    "xsub-s": lambda s: _xsub(s) if s["view"] == 1 and s["subject"] <= 10 else None,
}
