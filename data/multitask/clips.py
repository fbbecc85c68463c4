"""Clips for the multitask action model of Luvizon et al. 2018 (paper Sec. 4, Appendix B), from a
prepared benchmark whose annotations hold per-frame person boxes and 3D joints (the synthetic
one: ``data.index.read_annotation_3d``).

Time. Training: T frames at a random start, every k-th frame, k drawn uniformly from
``subsample`` (Appendix B: "video subsampling by a factor from 1 to 3"). Test (Sec. 4.3): with
the test ``stride``, "single" is one clip in the middle of the video (``middle_clip_start``),
"multi" is clips whose starts are T/2 clip frames apart (``multi_clip_starts``; T/2 x stride
video frames, so at stride 1 the paper's "T/2 frames"), their scores averaged by the caller.

Space. One square crop a clip (the model reads a clip through one crop): a box made square about
its centre, its side (1 + margin) x the longer side, as ``data.pose_frames`` crops a frame. The
box (``box_source``): "annotation", the union of the clip's frames' annotated person boxes (Sec.
5.2 trains on crops "using the ground truth annotations"; training clips always take it); or,
for test clips, "predicted", the union of the boxes of the poses the model predicted on the
whole first, middle and last frames of the clip (Sec. 5.2: "an initial pose prediction using the
full images from the first, middle, and last frames of a clip"): ``box_frames`` names those
frames, ``whole_frames`` gives them as network input, the caller predicts and hands the boxes
back through ``set_predicted_boxes``; or "joints", the same rule with the annotation's joints in
place of the predicted poses (``joints_box``): the box of the annotated joints (third column
> 0) on the first, middle and last frames, or on every frame of the clip where those three have
none (the test crop of Table 3's "annotated poses" and Table 5's "Kinect poses" rows, which see
no estimated pose); a test clip without any annotated joint is an unreadable test video
(``NoAnnotation``).
Training augmentation as the pose frames' (Appendix B): rotation, scale, translation, mirror
with left/right joints swapped; every random choice from ``RandomState([seed, epoch, index])``.

Items. Training: (clip (3, T, S, S) float32, label int32, target (T, J, 3), mask (T, J, 3),
visibility (T, J)), the pose targets of every frame in ``data.pose_frames``' convention (zero
mask when ``pose_targets`` is off: no 3D is read then). Test: (views (V, 3, T, S, S), label),
V = 1 (single) or the number of multi-clip starts; with ``annotated_poses`` also poses
(V, T, J, 4): each frame's annotated joints in the view's normalised coordinates (x, y, z as the
targets; 0 where unknown) and a weight, 1 for a known joint inside the crop, else 0
(``annotated_input``: the pose stream's input for Table 3's "annotated poses" and Table 5's
"Kinect poses").

Real datasets (Penn Action, NTU: ``python -m data.prepare``) write their annotations in the
layout of the pose model (``layout`` "pa16" or "pa20", data/joints.py) rather than COCO's:
their mirror swaps that layout's sides, the root is its pelvis (joint 0), and the z targets come
from ``xyz``'s depth where the dataset has it (NTU) and are masked where it does not (Penn
Action is 2D): ``read_clip_annotation``.

A video without an annotation (an NTU video whose skeleton file the release lacks, listed in
PREPARED/no_annotation.csv by ``data.prepare``) is left out of training (``left_out_note`` says
how many, for the run's log) and is an unreadable test video (``NoAnnotation``): evaluation stops
naming it, or with ``Skippable`` lists it and scores the rest, so no test set shrinks silently.
"""
import os

import numpy as np
from mxnet import gluon

from data import transforms as T
from data.batch import MultitaskClipItem
from data.index import read_annotation, read_annotation_3d
from data.joints import flip_permutation as layout_flip_permutation
from data.keypoints import flip_keypoints, flip_permutation
from data.loader import UNREADABLE
from data.multitask.clip_boxes import clip_box_frames, joints_box, whole_frame_matrix
from data.multitask.pose_frames import (
    CROP_MARGIN,
    DEPTH_RANGE_MM,
    TRANSLATION,
    crop_matrix,
    root_of,
    targets,
)
from data.prepare import NO_ANNOTATION
from data.video import VideoError, read_frames

TEST_CLIPS = ("single", "multi")
BOX_SOURCES = ("annotation", "predicted", "joints")


class NoAnnotation(OSError):
    """A test video without an annotation: unreadable for these clips (``UNREADABLE``)."""


# ---- time: pure functions ---------------------------------------------------------------------
def middle_clip_start(num_frames, clip_len, stride):
    """Sec. 4.3 single-clip: the start of the clip centred in the video (0 if it is shorter)."""
    span = T.clip_span(clip_len, T.fit_stride(num_frames, clip_len, stride))
    return max(num_frames - span, 0) // 2


def multi_clip_starts(num_frames, clip_len, stride):
    """Sec. 4.3 multi-clip: starts 0, h, 2h, ... with h = (T // 2) x stride video frames, every
    clip inside the video (one clip at 0 if the video is shorter than a clip)."""
    stride = T.fit_stride(num_frames, clip_len, stride)
    last = max(num_frames - T.clip_span(clip_len, stride), 0)
    return list(range(0, last + 1, max(clip_len // 2, 1) * stride))


def test_starts(num_frames, clip_len, stride, clips):
    if clips not in TEST_CLIPS:
        raise ValueError(f"test clips are one of {TEST_CLIPS}, got {clips!r}")
    if clips == "single":
        return [middle_clip_start(num_frames, clip_len, stride)]
    return multi_clip_starts(num_frames, clip_len, stride)


def read_clip_annotation(path, pose_targets):
    """ID.npz -> dict(keypoints (T, J, 3), boxes (T, 4), layout, and with ``pose_targets``
    depth (T, J) mm and root_depth (T,) mm, NaN where unknown). An annotation without a layout
    is the synthetic benchmark's (COCO order): its pose targets need its 3D ground truth
    (read_annotation_3d's error otherwise); one with a layout takes depth from ``xyz``, if any."""
    keypoints, boxes = read_annotation(path)
    with np.load(path) as z:
        layout = str(z["layout"]) if "layout" in z.files else None
        xyz = z["xyz"].astype(np.float32) if "xyz" in z.files else None
    ann = dict(keypoints=keypoints, boxes=boxes, layout=layout)
    if not pose_targets:
        return ann
    if layout is None:
        joints = read_annotation_3d(path)["joints_3d"]  # (T, 17, 3) camera mm
        return dict(ann, depth=joints[..., 2], root_depth=root_of(joints)[..., 2])
    depth = xyz[..., 2] if xyz is not None else np.full(keypoints.shape[:2], np.nan, np.float32)
    return dict(ann, depth=depth, root_depth=depth[:, 0])  # pa layouts: joint 0 the pelvis


def annotated_input(target, mask, visibility):
    """Pose targets (..., J, 3), mask (..., J, 3), visibility (..., J) -> the pose stream's
    annotated input (..., J, 4): coordinates where known (0 elsewhere) and weight 1 for a known
    joint inside the crop."""
    known = (mask > 0) & np.isfinite(target)
    coords = np.where(known, target, 0.0)
    weight = (np.nan_to_num(visibility, nan=0.0) > 0) & known[..., :2].all(axis=-1)
    return np.concatenate([coords, weight[..., None]], axis=-1).astype(np.float32)


def flip_clip_keypoints(keypoints, size, layout=None):
    """Keypoints (..., J, 3) of a mirrored ``size``-pixel crop: x -> size - 1 - x, sides swapped
    in COCO's order (layout None) or in the pa ``layout``."""
    if layout is None:
        return flip_keypoints(keypoints, size)
    out = np.asarray(keypoints)[..., layout_flip_permutation(layout), :].copy()
    out[..., 0] = size - 1 - out[..., 0]
    return out


# ---- the dataset ------------------------------------------------------------------------------
class MultitaskClips(gluon.data.Dataset):
    """Clips of ``samples`` (entries of a prepared dataset's index) with their annotations."""

    def __init__(self, prepared, samples, mode="train", clip_len=20, size=256, stride=1,
                 subsample=(1, 3), test_clips="single", num_joints=17, pose_targets=False,
                 margin=CROP_MARGIN, depth_range=DEPTH_RANGE_MM, scale=0.3, rotation=45.0,
                 rotation_prob=1.0, translation=TRANSLATION, flip=True, seed=0, backend="cv2",
                 outside="drop", box_source="annotation", annotated_poses=False):
        if mode not in ("train", "test"):
            raise ValueError(f"mode must be 'train' or 'test', got {mode!r}")
        if test_clips not in TEST_CLIPS:
            raise ValueError(f"test clips are one of {TEST_CLIPS}, got {test_clips!r}")
        if box_source not in BOX_SOURCES or (mode == "train" and box_source != "annotation"):
            raise ValueError(f"the clip box is one of {BOX_SOURCES} (training: annotation), got "
                             f"{box_source!r}")
        if not samples:
            raise ValueError("no samples to load")
        self._options = dict(
            mode=mode, clip_len=clip_len, size=size, stride=stride, subsample=subsample,
            test_clips=test_clips, num_joints=num_joints, pose_targets=pose_targets,
            margin=margin, depth_range=depth_range, scale=scale, rotation=rotation,
            rotation_prob=rotation_prob, translation=translation, flip=flip, seed=seed,
            backend=backend, outside=outside, box_source=box_source,
            annotated_poses=annotated_poses)
        self.box_source, self.annotated_poses = box_source, annotated_poses
        self.predicted = {}  # id -> {frame: box} of the predicted poses (box_source predicted)
        pose_targets = pose_targets or annotated_poses
        self.prepared, self.samples, self.mode = prepared, list(samples), mode
        self.clip_len, self.size, self.stride = clip_len, size, stride
        self.subsample, self.test_clips = tuple(subsample), test_clips
        self.pose_targets, self.margin, self.depth_range = pose_targets, margin, depth_range
        self.scale, self.rotation, self.rotation_prob = scale, rotation, rotation_prob
        self.translation, self.flip, self.outside = translation, flip, outside
        self.seed, self.epoch, self.backend = seed, 0, backend
        self.annotations, self.missing = [], []  # missing: the ids without an annotation
        for s in self.samples:  # read before any work: a bad annotation is a one-line error
            path = os.path.join(prepared, "annotations", s["id"] + ".npz")
            if not os.path.exists(path):
                self.missing.append(s["id"])
                self.annotations.append(None)
                continue
            ann = read_clip_annotation(path, pose_targets)
            if ann["keypoints"].shape[1] != num_joints:
                raise ValueError(f"{path} has {ann['keypoints'].shape[1]} joints; the model "
                                 f"predicts {num_joints} (model.options.num_joints)")
            self.annotations.append(ann)
        self.total = len(self.samples)
        self._all_samples = list(self.samples)
        if mode == "train" and self.missing:  # leave them out; the training run logs the count
            if len(self.missing) == self.total:
                raise ValueError(f"none of the {self.total} training videos has an annotation in "
                                 f"{prepared}/annotations: {self._where()}")
            kept = [i for i, a in enumerate(self.annotations) if a is not None]
            self.samples = [self.samples[i] for i in kept]
            self.annotations = [self.annotations[i] for i in kept]

    def replace(self, samples=None, **options):
        """The same clips with other constructor options (and ``samples``), read afresh."""
        kept = self._all_samples if samples is None else samples
        return MultitaskClips(self.prepared, kept, **dict(self._options, **options))

    def _where(self):
        listed = os.path.join(self.prepared, NO_ANNOTATION)
        if os.path.exists(listed):
            return f"listed in {listed}"
        return f"first {self.missing[0]!r}; prepare them with --skeletons (NTU)"

    def left_out_note(self):
        """Training: the line for the run's log saying which videos were left out, or None."""
        if self.mode != "train" or not self.missing:
            return None
        return (f"left out {len(self.missing)} of {self.total} training videos without "
                f"annotations: {self._where()}")

    def set_epoch(self, epoch):
        self.epoch = epoch

    def __len__(self):
        return len(self.samples)

    def name_of(self, index):
        return self.samples[index]["id"]

    def frame_count(self, index):
        s = self.samples[index]
        return min(s.get("frames", len(self.annotations[index]["boxes"])),
                   len(self.annotations[index]["boxes"]))

    def _frames(self, index, indices):
        sample = self.samples[index]
        try:
            return read_frames(os.path.join(self.prepared, sample["path"]), indices,
                               self.backend)
        except UNREADABLE as err:  # say which video: the error may surface in another process
            raise VideoError(f"unreadable video {sample['id']} ({sample['path']}): {err}") \
                from None

    def _crop(self, frames, m):
        """(T, H, W, 3) through one 2x3 map -> (T, S, S, 3)."""
        return np.stack([T.warp(f, m, (self.size, self.size)) for f in frames])

    def __getitem__(self, index):
        if self.annotations[index] is None:  # test mode only: training left them out
            raise NoAnnotation(
                f"test video {self.name_of(index)} has no annotation ({len(self.missing)} of "
                f"{self.total} test videos have none: {self._where()}); --skip-unreadable "
                f"scores the others and lists these in the results")
        return self._train_item(index) if self.mode == "train" else self._test_item(index)

    def _train_item(self, index):
        ann, label = self.annotations[index], np.int32(self.samples[index]["label"])
        rng = np.random.RandomState([self.seed, self.epoch, index])
        stride = rng.randint(self.subsample[0], self.subsample[1] + 1)
        indices = T.train_indices(self.frame_count(index), self.clip_len, stride, rng)
        m = crop_matrix(T.union_box(ann["boxes"][indices]), self.size, self.margin, rng,
                        self.scale, self.rotation, self.rotation_prob, self.translation)
        clip = self._crop(self._frames(index, indices), m)
        kps = T.apply_affine(ann["keypoints"][indices], m)  # (T, J, 3) crop pixels
        flipped = self.flip and rng.uniform() < 0.5
        if flipped:
            clip = np.ascontiguousarray(clip[:, :, ::-1])
            kps = flip_clip_keypoints(kps, self.size, ann["layout"])
        J = kps.shape[1]
        if not self.pose_targets:
            zeros = np.zeros((self.clip_len, J, 3), np.float32)
            return MultitaskClipItem(T.to_network(clip), label, zeros, zeros,
                                     np.zeros((self.clip_len, J), np.float32))
        depth, root_depth = ann["depth"][indices], ann["root_depth"][indices]  # (T, J), (T,)
        if flipped:
            perm = flip_permutation(J) if ann["layout"] is None else \
                layout_flip_permutation(ann["layout"])
            depth = depth[:, perm]
        rows = [targets(kps[t], depth[t], root_depth[t], self.size,
                        depth_range=self.depth_range, outside=self.outside)
                for t in range(self.clip_len)]
        target, mask, visibility = (np.stack(r) for r in zip(*rows))
        return MultitaskClipItem(T.to_network(clip), label, target, mask, visibility)

    def starts(self, index):
        """The test clips' first frames of item ``index``."""
        return test_starts(self.frame_count(index), self.clip_len, self.stride, self.test_clips)

    def _test_clips(self, index):
        """(V, T) the frame numbers of item ``index``'s test clips."""
        n = self.frame_count(index)
        return np.stack([T.clip_indices(n, self.clip_len, self.stride, s)
                         for s in self.starts(index)])

    def box_frames(self, index):
        """The frames whose predicted poses the test clips' boxes need (sorted, unique)."""
        return sorted({f for clip in self._test_clips(index) for f in clip_box_frames(clip)})

    def whole_frames(self, index, frames):
        """Frames of item ``index`` as network input of the whole image: (n, 3, S, S) and the
        (n, 2, 3) maps from frame pixels to input pixels (``whole_frame_matrix``)."""
        images = self._frames(index, frames)
        m = whole_frame_matrix(images.shape[1], images.shape[2], self.size)
        crops = np.stack([T.warp(f, m, (self.size, self.size)) for f in images])
        return T.to_network(crops).transpose(1, 0, 2, 3), np.repeat(m[None], len(frames), 0)

    def set_predicted_boxes(self, boxes):
        """``boxes``: sample id -> {frame: (x1, y1, x2, y2) of the poses predicted on it}."""
        self.predicted = {k: dict(v) for k, v in boxes.items()}

    def clip_box(self, index, frames):
        """The box a test clip of frames (T,) is cropped from (module docstring, Space)."""
        if self.box_source == "annotation":
            return T.union_box(self.annotations[index]["boxes"][frames])
        if self.box_source == "joints":
            box = joints_box(self.annotations[index]["keypoints"], frames)
            if box is None:
                raise NoAnnotation(f"test video {self.name_of(index)}: no annotated joint in "
                                   f"its test clip of frames {int(frames[0])}-{int(frames[-1])} "
                                   f"(eval.clip_box joints)")
            return box
        sample_id, boxes = self.name_of(index), self.predicted.get(self.name_of(index), {})
        wanted = clip_box_frames(frames)
        if any(f not in boxes for f in wanted):
            raise ValueError(f"test video {sample_id}: no predicted pose box for frames "
                             f"{wanted} (set_predicted_boxes before testing)")
        return T.union_box(np.stack([boxes[f] for f in wanted]))

    def _test_item(self, index):
        ann = self.annotations[index]
        clips = self._test_clips(index)  # (V, T)
        unique, inverse = np.unique(clips, return_inverse=True)
        frames = self._frames(index, unique)
        views, poses = [], []
        for clip, idx in zip(clips, inverse.reshape(clips.shape)):
            m = crop_matrix(self.clip_box(index, clip), self.size, self.margin)
            views.append(T.to_network(self._crop(frames[idx], m)))
            if self.annotated_poses:
                kps = T.apply_affine(ann["keypoints"][clip], m)
                rows = [targets(kps[t], ann["depth"][clip[t]], ann["root_depth"][clip[t]],
                                self.size, depth_range=self.depth_range, outside="keep")
                        for t in range(len(clip))]
                poses.append(annotated_input(*(np.stack(r) for r in zip(*rows))))
        label = np.int32(self.samples[index]["label"])
        if self.annotated_poses:
            return np.stack(views), label, np.stack(poses)
        return np.stack(views), label
