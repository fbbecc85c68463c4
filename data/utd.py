"""UTD-MHAD (Chen et al. 2015): names a{action}_s{subject}_t{trial}_color.avi.

27 actions, 8 subjects, 4 trials: 861 videos (three of the 864 are missing in the release).
Cross-subject: odd subjects train, even subjects test (paper Sec. 4.1).
"""
import re

NAME = "utd"
RESIZE = (340, 256)
FPS = 15
STRIDE = 4
VIDEO_EXTS = (".avi", ".mp4")
CLASSES = (
    "right arm swipe to the left", "right arm swipe to the right", "right hand wave",
    "two hand front clap", "right arm throw", "cross arms in the chest", "basketball shoot",
    "right hand draw x", "right hand draw circle (clockwise)",
    "right hand draw circle (counter clockwise)", "draw triangle", "bowling (right hand)",
    "front boxing", "baseball swing from right", "tennis right hand forehand swing",
    "arm curl (two arms)", "tennis serve", "two hand push", "right hand knock on door",
    "right hand catch an object", "right hand pick up and throw", "jogging in place",
    "walking in place", "sit to stand", "stand to sit", "forward lunge (left foot forward)",
    "squat (two arms stretch out)",
)

_PATTERN = re.compile(r"^a(\d+)_s(\d+)_t(\d+)(?:_color)?$")


def parse(stem):
    m = _PATTERN.match(stem)
    if not m:
        raise ValueError(f"not a UTD-MHAD name (aA_sS_tT_color): {stem!r}")
    action, subject, trial = map(int, m.groups())
    if not 1 <= action <= len(CLASSES):
        raise ValueError(f"UTD-MHAD action {action} outside 1..{len(CLASSES)}: {stem!r}")
    return dict(id=f"a{action}_s{subject}_t{trial}", label=action - 1, subject=subject, view=1,
                repetition=trial)


PROTOCOLS = {"xsub": lambda s: "train" if s["subject"] % 2 == 1 else "test"}
