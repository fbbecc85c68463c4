"""Single frames with 3D ground truth for the soft-argmax pose model of Luvizon et al. 2018
(paper Sec. 3.2, 5.2, Appendix B), from a prepared benchmark whose annotations hold the 3D joints
(the synthetic one: ``data.index.read_annotation_3d``).

Frames: every ``frame_step``-th frame (0, step, 2 step, ...) of every video of one split.
Crop: the frame's annotated person box made square about its centre, its side (1 + margin) x the
box's longer side, resized to S x S. Training augmentation (Appendix B): rotation +-45 degrees,
scale 0.7-1.3, translation +-40 px at S = 256 (``translation`` is that share of the crop's side,
40 / 256), horizontal flip with left/right joints swapped; every random choice comes from
``RandomState([seed, epoch, index])``, as in data/loader.py.

Targets in the convention of ``symbols.softargmax`` (layout (J, 3), COCO joint order):
- x, y: the soft-argmax gives cell c of an n-cell axis the value c / (n - 1). The multitask stem
  has output stride s = 8 (``STRIDE``), so an S-pixel crop has n = S / 8 cells and cell c covers
  crop pixels 8c - 0.5 .. 8c + 7.5 (pixel centres at integers), its centre at 8c + 3.5. Hence
      x = (u - (s - 1) / 2) / (S - s),   u = (s - 1) / 2 + x (S - s)
  (x = 0 at pixel 3.5, x = 1 at pixel S - 4.5; a mirror of the crop maps x to 1 - x exactly).
- z: root-relative depth, z = 0.5 + (Z - Z_root) / depth_range, Z the joint's camera depth in mm
  and Z_root the pelvis's, the midpoint of the hips (COCO has no pelvis joint); depth_range
  2000 mm as the cvpr18 code (``resol_z``), so +-1 m about the root spans [0, 1].
- mask (J, 3): 1 for a joint the annotation has (visibility > 0), 0 otherwise; z is known for
  every annotated joint of this benchmark.
- visibility (J,): 1 when the joint lies inside the crop (-0.5 <= u, v <= S - 0.5), 0 outside
  (Sec. 5.2); NaN (untrained) for a joint the annotation lacks.
- a joint outside the crop (``outside`` "drop", the default): its three coordinates are masked
  too, so it trains only its visibility. Its x, y targets lie outside [0, 1], where a soft-argmax
  can never reach, and would pull the heat maps to the crop's edge; the paper sets only the
  visibility to 0, the cvpr18 code also marks the coordinates invalid (``remove_outer_joints``).
  "keep" keeps them in the loss.

Items. Training: (image (3, S, S) float32, target (J, 3), mask (J, 3), visibility (J,)); wrap the
dataset in ``data.loader.Substitutes`` for the unreadable flag. Test: (image, matrix (2, 3) the
crop's map from frame pixels to crop pixels, root depth () mm, camera (4,) fx, fy, cx, cy,
index): what ``decode``, ``to_frame`` and ``back_project`` need to put a prediction into the
annotation's units (frame pixels; camera-frame mm, with the ground truth's root depth as in the
cvpr18 Human3.6M evaluation); ``frames[index]`` is (sample id, frame number).
"""
import os

import numpy as np
from mxnet import gluon

from data import transforms as T
from data.batch import PoseItem
from data.index import read_annotation_3d
from data.keypoints import COCO_KEYPOINTS, flip_permutation
from data.loader import UNREADABLE
from data.video import VideoError, read_frames

STRIDE = 8  # input pixels per heat-map cell: the multitask stem's output stride
DEPTH_RANGE_MM = 2000.0  # cvpr18 code: resol_z
CROP_MARGIN = 0.25
OUTSIDE = ("drop", "keep")  # a joint outside the crop: its coordinates leave the loss, or stay
TRANSLATION = 40 / 256  # Appendix B: +-40 px of a 256-px crop
HIPS = (COCO_KEYPOINTS.index("left_hip"), COCO_KEYPOINTS.index("right_hip"))


# ---- targets: pure NumPy ----------------------------------------------------------------------
def root_of(points, root=HIPS):
    """(..., J, D) -> (..., D): the pelvis, the mean of the ``root`` joints (COCO: the hips;
    the pa layouts of data.joints have the pelvis itself, joint 0)."""
    return np.asarray(points, np.float64)[..., list(np.atleast_1d(root)), :].mean(-2)


def encode(uv, depth, root_depth, size, stride=STRIDE, depth_range=DEPTH_RANGE_MM):
    """Crop pixels uv (..., J, 2) and camera depths (..., J) mm, with the root's depth (...) ->
    the normalised pose (..., J, 3) float64 (module docstring)."""
    half = (stride - 1) / 2.0
    xy = (np.asarray(uv, np.float64) - half) / (size - stride)
    dz = np.asarray(depth, np.float64) - np.asarray(root_depth, np.float64)[..., None]
    return np.concatenate([xy, (0.5 + dz / depth_range)[..., None]], axis=-1)


def decode(pose, root_depth, size, stride=STRIDE, depth_range=DEPTH_RANGE_MM):
    """The inverse of ``encode``: normalised pose (..., J, 3) -> crop pixels (..., J, 2) and
    camera depths (..., J) mm."""
    pose = np.asarray(pose, np.float64)
    uv = (stride - 1) / 2.0 + pose[..., :2] * (size - stride)
    depth = np.asarray(root_depth, np.float64)[..., None] + (pose[..., 2] - 0.5) * depth_range
    return uv, depth


def to_frame(uv, matrix):
    """Crop pixels (J, 2) -> frame pixels through the inverse of the crop's 2x3 map."""
    return T.apply_affine(np.asarray(uv, np.float64), T.invert_affine(matrix)).astype(np.float64)


def back_project(uv, depth, camera):
    """Frame pixels (..., J, 2) and depths (..., J) mm -> camera-frame joints (..., J, 3) mm,
    the inverse of the pinhole projection u = fx X / Z + cx, v = fy Y / Z + cy."""
    fx, fy, cx, cy = np.moveaxis(np.asarray(camera, np.float64), -1, 0)
    uv, z = np.asarray(uv, np.float64), np.asarray(depth, np.float64)
    x = (uv[..., 0] - np.asarray(cx)[..., None]) * z / np.asarray(fx)[..., None]
    y = (uv[..., 1] - np.asarray(cy)[..., None]) * z / np.asarray(fy)[..., None]
    return np.stack([x, y, z], axis=-1)


def flip_pose(pose, permutation=None):
    """The normalised pose (..., J, 3) predicted on a mirrored crop -> the crop's own: left and
    right swapped (``permutation``, default COCO's), x -> 1 - x (exact on the soft-argmax
    grid), z unchanged."""
    perm = flip_permutation(np.shape(pose)[-2]) if permutation is None else permutation
    out = np.array(pose, np.float64)[..., perm, :]
    out[..., 0] = 1.0 - out[..., 0]
    return out


def targets(keypoints, depth, root_depth, size, stride=STRIDE, depth_range=DEPTH_RANGE_MM,
            outside="drop"):
    """Crop keypoints (J, 3) (x, y, visible) in crop pixels and depths (J,) mm -> target (J, 3),
    mask (J, 3), visibility (J,), all float32 (module docstring). A depth that is NaN (a 2D
    dataset, or a joint without 3D), or a NaN root depth, masks that joint's z alone: a 2D
    sample trains x and y only; its z target holds 0.5, which the mask keeps out of the loss.
    ``outside`` "drop" masks every coordinate of a joint outside the crop, "keep" none."""
    if outside not in OUTSIDE:
        raise ValueError(f"outside joints are one of {OUTSIDE}, got {outside!r}")
    keypoints = np.asarray(keypoints, np.float64)
    depth = np.asarray(depth, np.float64)
    depth_known = np.isfinite(depth) & np.isfinite(root_depth)
    target = encode(keypoints[:, :2], np.where(depth_known, depth, root_depth if
                                               np.isfinite(root_depth) else 0.0),
                    root_depth if np.isfinite(root_depth) else 0.0, size, stride, depth_range)
    known = keypoints[:, 2] > 0
    inside = np.all((keypoints[:, :2] >= -0.5) & (keypoints[:, :2] <= size - 0.5), axis=1)
    trained = known & inside if outside == "drop" else known
    mask = np.stack([trained, trained, trained & depth_known], axis=1)
    visibility = np.where(known, inside, np.nan)
    return (target.astype(np.float32), mask.astype(np.float32),
            visibility.astype(np.float32))


def crop_matrix(box, size, margin=CROP_MARGIN, rng=None, scale=0.0, rotation=0.0,
                rotation_prob=1.0, translation=0.0):
    """2x3 map from frame pixels to the S x S crop of ``box`` (x1, y1, x2, y2) made square with
    ``margin``; with ``rng``, randomly scaled by 1 +- ``scale``, rotated by +- ``rotation``
    degrees (a share ``rotation_prob`` of the crops) and shifted by +- ``translation`` of its
    side (training)."""
    square = T.square_box(box)
    side = (square[2] - square[0]) * (1.0 + margin)
    centre = np.array([(square[0] + square[2]) / 2.0, (square[1] + square[3]) / 2.0])
    angle = 0.0
    if rng is not None:
        side *= rng.uniform(1 - scale, 1 + scale)
        angle = rng.uniform(-rotation, rotation) if rng.uniform() < rotation_prob else 0.0
        centre = centre + rng.uniform(-translation, translation, size=2) * side
    return T.affine_crop_matrix(centre, (side, side), (size, size), angle)


def train_crop(frame, box, keypoints, depth, rng, size, margin=CROP_MARGIN, scale=0.0,
               rotation=0.0, rotation_prob=1.0, translation=0.0, flip=True, permutation=None):
    """Appendix B's augmentation of one frame (H, W, 3) with its keypoints (J, 3) in frame
    pixels and depths (J,): the randomly scaled, rotated and shifted crop (``crop_matrix``),
    mirrored with probability 0.5 when ``flip`` (left/right joints traded by ``permutation``,
    default COCO's). -> crop (S, S, 3), crop keypoints (J, 3), depths (J,) in the crop's joint
    order. Every random choice comes from ``rng``, in this order: scale, rotation, shift, flip."""
    m = crop_matrix(box, size, margin, rng, scale, rotation, rotation_prob, translation)
    crop = T.warp(frame, m, (size, size))
    kps = T.apply_affine(keypoints, m)
    depth = np.asarray(depth, np.float64)
    if flip and rng.uniform() < 0.5:
        perm = flip_permutation(len(kps)) if permutation is None else np.asarray(permutation)
        crop = np.ascontiguousarray(crop[:, ::-1])
        kps = kps[perm].copy()
        kps[:, 0] = size - 1 - kps[:, 0]
        depth = depth[perm]
    return crop, kps, depth


def shifted(matrix, shift, size):
    """The 2x3 crop map of the same window moved by ``shift`` (dx, dy) x its side (the paper's
    multi-crop test: "multiple images are cropped with small displacements")."""
    out = np.array(matrix, np.float64)
    out[:, 2] -= np.asarray(shift, np.float64) * size  # crop pixels = side-relative shift x S
    return out


def hold_out(samples, share, seed=0):
    """(kept, held out) samples: ``share`` of the performances (label, subject, repetition: the
    views of one take go together, so none is seen in training) held out for validation,
    chosen by ``seed``; share 0 holds out nothing."""
    def take(s):
        fields = [s.get(k) for k in ("label", "subject", "repetition")]
        return tuple(fields) if None not in fields else s["id"]
    groups = sorted({take(s) for s in samples}, key=str)
    if share <= 0:
        return list(samples), []
    count = max(1, int(round(share * len(groups))))
    if count >= len(groups):
        raise ValueError(f"holding out {share:g} of {len(groups)} performances for validation "
                         f"leaves none to train on")
    order = np.random.RandomState(seed).permutation(len(groups))
    held = {groups[i] for i in order[:count]}
    return [s for s in samples if take(s) not in held], [s for s in samples if take(s) in held]


# ---- the dataset ------------------------------------------------------------------------------
class PoseFrames(gluon.data.Dataset):
    """Frames of ``samples`` (entries of a prepared dataset's index) with their 3D annotations.
    An annotation without 3D is the reader's one-line ValueError naming the file."""

    def __init__(self, prepared, samples, mode="train", size=256, frame_step=1,
                 margin=CROP_MARGIN, depth_range=DEPTH_RANGE_MM, scale=0.3, rotation=45.0,
                 rotation_prob=1.0, translation=TRANSLATION, flip=True, seed=0, backend="cv2",
                 outside="drop"):
        if mode not in ("train", "test"):
            raise ValueError(f"mode must be 'train' or 'test', got {mode!r}")
        if not samples:
            raise ValueError("no samples to load")
        self.prepared, self.samples, self.mode = prepared, list(samples), mode
        self.outside = outside
        self.size, self.margin, self.depth_range = size, margin, depth_range
        self.scale, self.rotation, self.rotation_prob = scale, rotation, rotation_prob
        self.translation, self.flip = translation, flip
        self.seed, self.epoch, self.backend = seed, 0, backend
        self.shift = (0.0, 0.0)  # test crops: the window's shift, a share of its side
        self.annotations, self.frames = [], []
        for s in self.samples:
            ann = read_annotation_3d(os.path.join(prepared, "annotations", s["id"] + ".npz"))
            self.annotations.append(ann)
            count = min(len(ann["keypoints"]), s.get("frames", len(ann["keypoints"])))
            self.frames += [(s["id"], t) for t in range(0, count, frame_step)]
        self._sample = {s["id"]: i for i, s in enumerate(self.samples)}

    def set_epoch(self, epoch):
        self.epoch = epoch

    def __len__(self):
        return len(self.frames)

    def name_of(self, index):
        sample_id, t = self.frames[index]
        return f"{sample_id} frame {t}"

    def annotation(self, index):
        """(the sample's annotation dict, the frame number) of item ``index``."""
        sample_id, t = self.frames[index]
        return self.annotations[self._sample[sample_id]], t

    def matrix(self, index, rng=None):
        ann, t = self.annotation(index)
        if rng is None:
            return crop_matrix(ann["boxes"][t], self.size, self.margin)
        return crop_matrix(ann["boxes"][t], self.size, self.margin, rng, self.scale,
                           self.rotation, self.rotation_prob, self.translation)

    def root_depth(self, index):
        ann, t = self.annotation(index)
        return root_of(ann["joints_3d"][t])[2]

    def ground_truth(self):
        """Stacked over the items: keypoints (N, J, 3) frame pixels, joints_3d (N, J, 3) mm,
        boxes (N, 4), camera (N, 4)."""
        rows = [self.annotation(i) for i in range(len(self))]
        return {k: np.stack([ann[k][t] if k != "camera" else ann[k] for ann, t in rows])
                for k in ("keypoints", "joints_3d", "boxes", "camera")}

    def __getitem__(self, index):
        sample_id, t = self.frames[index]
        sample = self.samples[self._sample[sample_id]]
        try:
            frame = read_frames(os.path.join(self.prepared, sample["path"]), [t],
                                self.backend)[0]
        except UNREADABLE as err:  # say which video: the error may surface in another process
            raise VideoError(f"unreadable video {sample_id} ({sample['path']}): {err}") from None
        return self._train_item(index, frame) if self.mode == "train" else \
            self._test_item(index, frame)

    def _train_item(self, index, frame):
        ann, t = self.annotation(index)
        rng = np.random.RandomState([self.seed, self.epoch, index])
        crop, kps, depth = train_crop(
            frame, ann["boxes"][t], ann["keypoints"][t], ann["joints_3d"][t][:, 2], rng,
            self.size, self.margin, self.scale, self.rotation, self.rotation_prob,
            self.translation, self.flip)
        target, mask, visibility = targets(kps, depth, self.root_depth(index), self.size,
                                           depth_range=self.depth_range, outside=self.outside)
        return PoseItem(T.to_network(crop[None])[:, 0], target, mask, visibility)

    def _test_item(self, index, frame):
        ann, _ = self.annotation(index)
        m = shifted(self.matrix(index), self.shift, self.size)
        crop = T.warp(frame, m, (self.size, self.size))
        return (T.to_network(crop[None])[:, 0], m.astype(np.float32),
                np.float32(self.root_depth(index)), ann["camera"].astype(np.float32),
                np.int32(index))
