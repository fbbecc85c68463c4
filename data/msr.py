"""MSR Daily Activity 3D (Wang et al. 2012): names a{01..16}_s{01..10}_e{01,02}_rgb.avi.

Cross-subject: subjects 1, 3, 5, 7, 9 train, the rest test (paper Sec. 4.1). 320 videos.
"""
import re

NAME = "msr"
RESIZE = (340, 256)
FPS = 30
STRIDE = 8
VIDEO_EXTS = (".avi", ".mp4")
CLASSES = ("drink", "eat", "read book", "call cellphone", "write on a paper", "use laptop",
           "use vacuum cleaner", "cheer up", "sit still", "toss paper", "play game",
           "lie down on sofa", "walk", "play guitar", "stand up", "sit down")
TRAIN_SUBJECTS = frozenset((1, 3, 5, 7, 9))

_PATTERN = re.compile(r"^a(\d{2})_s(\d{2})_e(\d{2})(?:_rgb)?$")


def parse(stem):
    m = _PATTERN.match(stem)
    if not m:
        raise ValueError(f"not an MSR Daily name (aAA_sSS_eEE_rgb): {stem!r}")
    action, subject, repetition = map(int, m.groups())
    if not 1 <= action <= len(CLASSES):
        raise ValueError(f"MSR action {action} outside 1..{len(CLASSES)}: {stem!r}")
    return dict(id=f"a{action:02d}_s{subject:02d}_e{repetition:02d}", label=action - 1,
                subject=subject, view=1, repetition=repetition)


PROTOCOLS = {"xsub": lambda s: "train" if s["subject"] in TRAIN_SUBJECTS else "test"}
