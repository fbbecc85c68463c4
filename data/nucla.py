"""Northwestern-UCLA Multiview Action 3D (Wang et al. 2014): names a{AA}_s{SS}_e{EE}_v{VV}.

Ten actions with codes a01..a06, a08, a09, a11, a12; three Kinect views. Protocols xview1/2/3:
test on view 1/2/3, train on the other two (paper Sec. 4.1).
"""
import re

NAME = "nucla"
RESIZE = (340, 256)
FPS = 12
STRIDE = 1
VIDEO_EXTS = (".avi", ".mp4")
ACTION_CODES = (1, 2, 3, 4, 5, 6, 8, 9, 11, 12)
CLASSES = ("pick up with one hand", "pick up with two hands", "drop trash", "walk around",
           "sit down", "stand up", "donning", "doffing", "throw", "carry")
VIEWS = (1, 2, 3)

_PATTERN = re.compile(r"^a(\d{2})_s(\d{2})_e(\d{2})_v(\d{2})(?:_rgb)?$")


def parse(stem, action_codes=ACTION_CODES):
    m = _PATTERN.match(stem)
    if not m:
        raise ValueError(f"not an N-UCLA name (aAA_sSS_eEE_vVV): {stem!r}")
    action, subject, repetition, view = map(int, m.groups())
    if action not in action_codes:
        raise ValueError(f"N-UCLA action a{action:02d} is not one of the ten: {stem!r}")
    if view not in VIEWS:
        raise ValueError(f"N-UCLA view v{view:02d} is not 1, 2 or 3: {stem!r}")
    return dict(id=f"a{action:02d}_s{subject:02d}_e{repetition:02d}_v{view:02d}",
                label=action_codes.index(action), subject=subject, view=view,
                repetition=repetition)


def _cross_view(test_view):
    return lambda s: "test" if s["view"] == test_view else "train"


PROTOCOLS = {f"xview{v}": _cross_view(v) for v in VIEWS}
