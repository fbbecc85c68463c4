"""Human3.6M (Ionescu et al. 2014; paper Sec. 5.1, 5.3) as mmpose's preprocessing writes it.

mmpose's tools/dataset_converters/preprocess_h36m.py turns the official archives into

    annotation_body3d/fps50/h36m_train.npz, h36m_test.npz  (fps10/: every 5th frame only)
        imgname (N,)     "S9/S9_Directions_1.54138969/S9_Directions_1.54138969_000001.jpg":
                         subject, action (with the official sequence's number, if any), camera,
                         frame number (1-based, of the 50 fps video)
        center (N, 2)    centre of the box of the 2D joints, pixels
        scale (N,)       1.2 x the box's longer side / 200
        part (N, 17, 3)  2D joints in pixels, then visibility (1)
        S (N, 17, 4)     3D joints in camera coordinates (D3_Positions_mono), METRES (the
                         converter divides the millimetres by 1000), then visibility (1)
    annotation_body3d/cameras.pkl: a pickled dict {("S1", "54138969"): {"R": (3, 3),
        "T": (3, 1) metres, "c": (2, 1), "f": (2, 1), "k": (3, 1), "p": (2, 1), "w", "h",
        "name", "id"}} for 11 subjects x 4 cameras (R, T: world -> camera).
    It is read through ``CamerasUnpickler``, which builds only what that format holds
    (containers, numbers, strings and NumPy arrays): a pickle naming any other callable (a
    downloaded file could run code when opened) is refused before anything is called.

Joints: data.joints.H36M (mmpose's 17, the standard evaluation set). This module returns the 3D
joints in millimetres, the unit of MPJPE (a file already in millimetres is taken as it is).

Protocol "p1" (paper Sec. 5.3, Sun et al.'s protocol #1): subjects 1, 5, 6, 7, 8 train; 9 and 11
test "on one every 64 frames", here the frames whose 0-based index in the 50 fps video is a
multiple of 64 (so the fps50 file gives the protocol's test set; fps10 only every 320th frame).
The paper does not say which training frames it used; "train" counts every frame of the training
subjects that the file holds.
"""
import os
import pickle
import re

import numpy as np

from .joints import H36M

NAME = "h36m"
JOINTS = H36M
TRAIN_SUBJECTS = (1, 5, 6, 7, 8)
TEST_SUBJECTS = (9, 11)
TEST_EVERY = 64  # test frames: every 64th frame of the 50 fps videos
PROTOCOLS = ("p1",)
# The paper's Table 1 columns <- the official action names (S1 uses TakingPhoto, WalkingDog).
ACTIONS = {"Directions": "Direction", "Discussion": "Discuss", "Eating": "Eat",
           "Greeting": "Greet", "Phoning": "Phone", "Posing": "Posing", "Purchases": "Purchase",
           "Sitting": "Sitting", "SittingDown": "Sit Down", "Smoking": "Smoke",
           "Photo": "Photo", "TakingPhoto": "Photo", "Waiting": "Wait", "Walking": "Walk",
           "WalkDog": "Walk Dog", "WalkingDog": "Walk Dog", "WalkTogether": "Walk Pair"}
TABLE1_ACTIONS = ("Direction", "Discuss", "Eat", "Greet", "Phone", "Posing", "Purchase",
                  "Sitting", "Sit Down", "Smoke", "Photo", "Wait", "Walk", "Walk Dog",
                  "Walk Pair")
_IMGNAME = re.compile(r"^S(\d+)_(.+)\.(\d+)_(\d+)\.\w+$")


def parse_imgname(imgname):
    """'S9/S9_Directions_1.54138969/S9_Directions_1.54138969_000001.jpg' ->
    (9, 'Direction', '54138969', 1): subject, Table 1 action, camera, 1-based frame number."""
    m = _IMGNAME.match(os.path.basename(str(imgname)))
    if not m:
        raise ValueError(f"not a Human3.6M image name (S9_Action_1.CAMERA_000001.jpg): "
                         f"{imgname!r}")
    subject, sequence, camera, frame = m.groups()
    action = re.sub(r"[ _]\d+$", "", sequence)  # "Directions_1" -> "Directions"
    if action not in ACTIONS:
        raise ValueError(f"unknown Human3.6M action {action!r} in {imgname!r}")
    return int(subject), ACTIONS[action], camera, int(frame)


def _load_npz(path):
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such file: {path}")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (ValueError, OSError) as err:  # not a zip of arrays, or arrays of objects
        raise ValueError(f"{path} is not an .npz of arrays ({err})") from None


def millimetres(points):
    """Factor from the file's 3D unit to mm: mmpose's metres (1000), or a file in mm (1). Told
    apart by the median distance of the joints to the root: a body is ~0.2-1 m, 200-1000 mm."""
    spread = np.nanmedian(np.linalg.norm(points - points[:, :1], axis=-1))
    if 0.01 < spread < 5:
        return 1000.0
    if 10 < spread < 5000:
        return 1.0
    raise ValueError(f"3D joints with a median distance of {spread:g} to the root are neither "
                     f"in metres nor in millimetres")


def read_annotations(path):
    """mmpose's h36m_*.npz -> dict of per-row arrays, in the file's order: imgname, video
    ("S9_Directions_1.54138969"), subject, action (Table 1 name), camera, frame (1-based),
    center (N, 2), scale (N,), joints_2d (N, 17, 2) pixels, visible_2d (N, 17), joints_3d
    (N, 17, 3) millimetres, visible_3d."""
    data = _load_npz(path)
    missing = [k for k in ("imgname", "S") if k not in data]
    if missing:
        raise ValueError(f"{path} has no {missing[0]!r}: not an mmpose Human3.6M annotation file")
    names, n, k = data["imgname"], len(data["imgname"]), len(JOINTS)
    shapes = {"S": (n, k, 4), "part": (n, k, 3), "center": (n, 2), "scale": (n,)}
    for key, shape in shapes.items():
        if key in data and data[key].shape != shape:
            raise ValueError(f"{path}: {key} has shape {data[key].shape}, expected {shape}")
    rows = []
    for i, name in enumerate(names):
        try:
            rows.append(parse_imgname(name))
        except ValueError as err:
            raise ValueError(f"{path}: row {i}: {err}") from None
    subject, action, camera, frame = (list(c) for c in zip(*rows)) if rows else ([],) * 4
    S = data["S"].astype(float)
    part = data.get("part", np.zeros((n, k, 3)))
    video = [re.sub(r"_\d+\.\w+$", "", os.path.basename(str(name))) for name in names]
    return dict(imgname=np.asarray(names).astype(str), video=np.array(video, str),
                subject=np.array(subject, int), action=np.array(action, str),
                camera=np.array(camera, str), frame=np.array(frame, int),
                center=data.get("center", np.zeros((n, 2))).astype(float),
                scale=data.get("scale", np.zeros(n)).astype(float),
                joints_2d=part[..., :2].astype(float), visible_2d=part[..., 2] > 0,
                joints_3d=S[..., :3] * (millimetres(S[..., :3]) if n else 1.0),
                visible_3d=S[..., 3] > 0)


def protocol_rows(ann, side):
    """Indices of protocol p1's ``side`` rows: "train", the training subjects' frames; "test",
    subjects 9 and 11 on every 64th video frame."""
    if side == "train":
        return np.flatnonzero(np.isin(ann["subject"], TRAIN_SUBJECTS))
    keep = np.isin(ann["subject"], TEST_SUBJECTS) & ((ann["frame"] - 1) % TEST_EVERY == 0)
    return np.flatnonzero(keep)


def frame_step(ann):
    """The smallest gap between frame numbers of one video in the file: 1 (fps50), 5 (fps10)."""
    order = np.lexsort((ann["frame"], ann["video"]))  # by video, then frame
    video, frame = ann["video"][order], ann["frame"][order]
    gaps = np.diff(frame)[video[1:] == video[:-1]]
    gaps = gaps[gaps > 0]
    return int(gaps.min()) if len(gaps) else 1


# The callables a pickled NumPy array or scalar names (NumPy 1.x and 2.x module paths); the
# builtin containers, numbers and strings need none.
NUMPY_GLOBALS = {(m, n) for m in ("numpy.core.multiarray", "numpy._core.multiarray")
                 for n in ("_reconstruct", "scalar")} | {("numpy", "ndarray"), ("numpy", "dtype")}


class CamerasUnpickler(pickle.Unpickler):
    """An unpickler that builds containers, numbers, strings and NumPy arrays only."""

    def find_class(self, module, name):
        if (module, name) in NUMPY_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"it names {module}.{name}, which a cameras file does not "
                                     f"hold; refused without calling it")


def read_cameras(path):
    """mmpose's cameras.pkl -> {(subject 'S1', camera id '54138969'): parameters as stored}."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such file: {path}")
    with open(path, "rb") as f:
        try:
            cameras = CamerasUnpickler(f).load()
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
                ImportError, IndexError, KeyError) as err:
            raise ValueError(f"{path} is not a cameras pickle ({err})") from None
    if not isinstance(cameras, dict) or not cameras:
        raise ValueError(f"{path} is not mmpose's cameras file (a dict keyed by (subject, "
                         f"camera id))")
    for key, cam in cameras.items():
        if not (isinstance(key, tuple) and len(key) == 2) or not isinstance(cam, dict) \
                or not all(p in cam for p in ("R", "T", "f", "c")):
            raise ValueError(f"{path}: entry {key!r} is not (subject, camera id) -> parameters "
                             f"with R, T, f and c")
    arrays = ("R", "T", "f", "c", "k", "p")
    return {key: {p: np.asarray(v, float) if p in arrays else v for p, v in cam.items()}
            for key, cam in cameras.items()}


def count_splits(path):
    """An h36m_*.npz, or a folder of them -> {"p1": {"train": frames, "test": frames}}."""
    if os.path.isdir(path):
        files = sorted(os.path.join(path, f) for f in os.listdir(path) if f.endswith(".npz"))
        if not files:
            raise FileNotFoundError(f"no .npz annotation file in {path}")
    else:
        files = [path]
    out = {"p1": {"train": 0, "test": 0}}
    for f in files:
        ann = read_annotations(f)
        for side in ("train", "test"):
            out["p1"][side] += len(protocol_rows(ann, side))
    return out
