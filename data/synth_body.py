"""The synthetic person: a 3D skeleton with the 17 COCO joints, ten actions, its cameras and its
rendering.

Body frame: x towards the person's left (the viewer's right, as the person faces the camera),
y up, z towards the camera; feet on y = 0, height about 1 (``stature``). Actions differ
only in how the joints move; each is a function of the phase (0..1 over the video) and an
amplitude. Every person is ``PERSON_HEIGHT_MM`` tall, which fixes the body unit in millimetres.
Cameras are pinholes with one lens (``VERTICAL_FOV``), square pixels and the principal point at
the image centre; each looks horizontally along the body frame's -z after a yaw about the
vertical, from the distance at which it frames the person as asked (``camera``). Camera
coordinates are Human3.6M's: x right, y down, z forward from the camera, in millimetres.
"""
import cv2
import numpy as np

from .keypoints import COCO_KEYPOINTS

K = len(COCO_KEYPOINTS)
J = {name: i for i, name in enumerate(COCO_KEYPOINTS)}
# Limbs drawn as thick segments: (joint a, joint b, colour part, relative width)
LIMBS = (
    ("left_shoulder", "right_shoulder", "shirt", 1.0), ("left_hip", "right_hip", "pants", 1.0),
    ("left_shoulder", "left_hip", "shirt", 1.2), ("right_shoulder", "right_hip", "shirt", 1.2),
    ("left_shoulder", "left_elbow", "shirt", 0.8), ("left_elbow", "left_wrist", "skin", 0.7),
    ("right_shoulder", "right_elbow", "shirt", 0.8), ("right_elbow", "right_wrist", "skin", 0.7),
    ("left_hip", "left_knee", "pants", 1.0), ("left_knee", "left_ankle", "pants", 0.9),
    ("right_hip", "right_knee", "pants", 1.0), ("right_knee", "right_ankle", "pants", 0.9),
)
PERSON_HEIGHT_MM = 1750.0  # every synthetic person's stature
# Degrees (39 horizontal at 4:3): the person 4.4-6.0 m away, a room's distance, where the
# perspective moves the keypoints 0.7 px on average from the old orthographic framing.
VERTICAL_FOV = 30.0
ACTIONS = ("wave right hand", "wave both hands", "raise arms", "squat", "jumping jack",
           "kick", "punch", "bend down", "march", "clap")


def _rot_x(v, a):
    """Rotate vectors (..., 3) about the x axis by a (positive: a downward vector turns to +z)."""
    c, s = np.cos(a), np.sin(a)
    x, y, z = v[..., 0], v[..., 1], v[..., 2]
    return np.stack([x, c * y - s * z, s * y + c * z], axis=-1)


def _limb_dir(abduct, flex, side):
    """Unit direction of a limb hanging down, swung outwards by ``abduct`` (radians, towards
    ``side`` = +1 person's left / -1 right) and then forwards by ``flex``."""
    down = np.array([side * np.sin(abduct), -np.cos(abduct), 0.0])
    return _rot_x(down, flex)


def pose_angles(action, phase, amp):
    """Joint angles (radians) and body offsets of ``action`` at ``phase`` in [0, 1)."""
    w = np.sin(2 * np.pi * phase)  # -1..1 oscillation
    u = 0.5 - 0.5 * np.cos(2 * np.pi * phase)  # 0..1..0 excursion
    a = dict(l_abd=0.15, r_abd=0.15, l_flex=0.0, r_flex=0.0, l_elbow=0.2, r_elbow=0.2,
             l_hip=0.0, r_hip=0.0, l_knee=0.0, r_knee=0.0, l_leg_abd=0.05, r_leg_abd=0.05,
             bend=0.0, drop=0.0)
    name = ACTIONS[action]
    if name == "wave right hand":
        a.update(r_abd=2.5, r_elbow=0.3 + 0.6 * amp * (w + 1) / 2)
    elif name == "wave both hands":
        a.update(l_abd=2.5, r_abd=2.5, l_elbow=0.3 + 0.6 * amp * (w + 1) / 2,
                 r_elbow=0.3 + 0.6 * amp * (1 - w) / 2)
    elif name == "raise arms":
        a.update(l_abd=0.15 + 2.6 * amp * u, r_abd=0.15 + 2.6 * amp * u, l_elbow=0.1, r_elbow=0.1)
    elif name == "squat":
        a.update(l_hip=1.5 * amp * u, r_hip=1.5 * amp * u, l_knee=2.2 * amp * u,
                 r_knee=2.2 * amp * u, l_flex=1.4 * u, r_flex=1.4 * u, drop=0.28 * amp * u)
    elif name == "jumping jack":
        a.update(l_abd=0.15 + 2.5 * amp * u, r_abd=0.15 + 2.5 * amp * u,
                 l_leg_abd=0.05 + 0.35 * amp * u, r_leg_abd=0.05 + 0.35 * amp * u,
                 drop=-0.06 * amp * np.sin(np.pi * u))
    elif name == "kick":
        a.update(r_hip=1.4 * amp * u, r_knee=0.9 * (1 - u) * u * 4 * 0.5, l_abd=0.5, r_abd=0.5)
    elif name == "punch":
        a.update(r_flex=1.5 * amp * max(w, 0), r_elbow=1.8 * (1 - amp * max(w, 0)),
                 l_flex=1.5 * amp * max(-w, 0), l_elbow=1.8 * (1 - amp * max(-w, 0)),
                 r_abd=0.05, l_abd=0.05)
    elif name == "bend down":
        a.update(bend=1.2 * amp * u, l_flex=1.2 * u, r_flex=1.2 * u, l_knee=0.3 * u,
                 r_knee=0.3 * u, l_hip=0.2 * u, r_hip=0.2 * u)
    elif name == "march":
        a.update(l_hip=1.2 * amp * max(w, 0), l_knee=1.8 * amp * max(w, 0),
                 r_hip=1.2 * amp * max(-w, 0), r_knee=1.8 * amp * max(-w, 0),
                 l_flex=-0.6 * amp * w, r_flex=0.6 * amp * w)
    elif name == "clap":
        a.update(l_flex=1.4, r_flex=1.4, l_abd=0.9 * amp * (1 - u) + 0.05,
                 r_abd=0.9 * amp * (1 - u) + 0.05, l_elbow=0.4, r_elbow=0.4)
    return a


def skeleton(action, phase, amp, body):
    """3D joints (K, 3) in the body frame for one frame; ``body`` holds limb lengths."""
    a = pose_angles(action, phase, amp)
    p = np.zeros((K, 3))
    pelvis = np.array([0.0, body["leg"] * 2 + 0.04 - a["drop"], 0.0])
    for side, tag in ((1, "l"), (-1, "r")):
        pre = "left_" if side == 1 else "right_"
        hip = pelvis + [side * body["hip_w"], 0, 0]
        thigh = _limb_dir(a[f"{tag}_leg_abd"], a[f"{tag}_hip"], side)
        knee = hip + body["leg"] * thigh
        shin = _rot_x(thigh, -a[f"{tag}_knee"])
        p[J[pre + "hip"]], p[J[pre + "knee"]] = hip, knee
        p[J[pre + "ankle"]] = knee + body["leg"] * shin
    # The upper body rotates forwards about the pelvis by ``bend``.
    up = dict(shoulder_y=body["torso"], head_y=body["torso"] + body["neck"])
    for side, tag in ((1, "l"), (-1, "r")):
        pre = "left_" if side == 1 else "right_"
        shoulder = np.array([side * body["shoulder_w"], up["shoulder_y"], 0.0])
        upper = _limb_dir(a[f"{tag}_abd"], a[f"{tag}_flex"], side)
        elbow = shoulder + body["arm"] * upper
        fore = _rot_x(upper, a[f"{tag}_elbow"]) if a[f"{tag}_abd"] < 1.6 else \
            _limb_dir(a[f"{tag}_abd"] - a[f"{tag}_elbow"], a[f"{tag}_flex"], side)
        p[J[pre + "shoulder"]], p[J[pre + "elbow"]] = shoulder, elbow
        p[J[pre + "wrist"]] = elbow + body["forearm"] * fore
    head = np.array([0.0, up["head_y"], 0.0])
    r = body["head"]
    p[J["nose"]] = head + [0, -0.2 * r, r]
    for side, pre in ((1, "left_"), (-1, "right_")):
        p[J[pre + "eye"]] = head + [side * 0.35 * r, 0.15 * r, 0.85 * r]
        p[J[pre + "ear"]] = head + [side * r, 0, 0]
    upper = [J[n] for n in COCO_KEYPOINTS if not n.endswith(("hip", "knee", "ankle"))]
    p[upper] = _rot_x(p[upper], a["bend"]) + pelvis  # upper body: pelvis-relative until here
    return p, _rot_x(head, a["bend"]) + pelvis


def stature(body):
    """Standing height in body units: floor to the top of the head (pelvis 0.04 above twice
    the leg, as in ``skeleton``)."""
    return 2 * body["leg"] + 0.04 + body["torso"] + body["neck"] + body["head"]


def camera(yaw, centre_x, ground_y, scale, width, height, unit_mm):
    """The pinhole camera that puts the floor under the pelvis at pixel (centre_x, ground_y) with
    ``scale`` pixels per body unit in the vertical plane through the pelvis facing the camera
    (exactly the framing of the orthographic camera it replaced, in that plane); ``unit_mm`` is
    the body unit in millimetres. -> intrinsics (4,) fx, fy, cx, cy in pixels (pixel centres at
    integers), rotation (3, 3) and translation (3,) mm: camera = rotation @ body_mm + translation.
    """
    f = height / 2 / np.tan(np.deg2rad(VERTICAL_FOV) / 2)
    cx, cy = (width - 1) / 2, (height - 1) / 2
    c, s = np.cos(yaw), np.sin(yaw)
    # Rows: the camera's x (right), y (down) and z (forward, the body's -z after the yaw).
    rotation = np.array([[c, 0.0, s], [0.0, -1.0, 0.0], [s, 0.0, -c]])
    # At depth f * unit_mm / scale a body unit spans ``scale`` pixels.
    translation = unit_mm / scale * np.array([centre_x - cx, ground_y - cy, f])
    return np.array([f, f, cx, cy]), rotation, translation


def project(points, intrinsics):
    """Pinhole projection: camera coordinates (..., 3) in mm -> pixels (..., 2)."""
    fx, fy, cx, cy = intrinsics
    return np.stack([fx * points[..., 0] / points[..., 2] + cx,
                     fy * points[..., 1] / points[..., 2] + cy], axis=-1)


def draw_person(image, joints2d, depth, head2d, head_depth, scale, body, colours):
    """Painter's algorithm: limbs and the head, farthest (largest camera z) first. Limb widths and
    the head radius are ``scale`` pixels per body unit whatever their depth. Draws into ``image``.
    """
    items = []
    for a, b, part, width in LIMBS:
        ia, ib = J[a], J[b]
        items.append(((depth[ia] + depth[ib]) / 2, "limb", (ia, ib, part, width)))
    items.append((head_depth, "head", None))
    for _, kind, info in sorted(items, key=lambda t: -t[0]):
        if kind == "limb":
            ia, ib, part, width = info
            thick = max(1, int(round(scale * body["limb_w"] * width)))
            cv2.line(image, tuple(np.round(joints2d[ia]).astype(int)),
                     tuple(np.round(joints2d[ib]).astype(int)), colours[part], thick, cv2.LINE_AA)
        else:
            radius = max(2, int(round(scale * body["head"])))
            cv2.circle(image, tuple(np.round(head2d).astype(int)), radius, colours["skin"], -1,
                       cv2.LINE_AA)
    return image


def random_body(rng):
    """Subject proportions: limb lengths and widths vary by about +-10 %."""
    j = lambda v: v * rng.uniform(0.9, 1.1)  # noqa: E731
    return dict(leg=j(0.245), torso=j(0.30), neck=j(0.085), arm=j(0.17), forearm=j(0.16),
                hip_w=j(0.085), shoulder_w=j(0.125), head=j(0.065), limb_w=j(0.06))
