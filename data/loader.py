"""Clips for training and testing, as a Gluon Dataset and DataLoader (paper Sec. 4.3).

Training item: (clip (3, T, S, S) float32, label, heatmaps (T, K, S/8, S/8), offsets
(T, K, 2, S/8, S/8), weights (T, K)). The pose targets come from a per-video keypoint file
(POSES/ID.npy, (frames, 17, 3) in pixels of the prepared video: pseudo-poses, or ground truth
for the synthetic benchmark); a joint is a target when its third column exceeds
``min_confidence``. A missing or malformed pose file is an error (PoseFileError), never skipped.
Without pose files (no pose loss) the targets are zero with zero weight.
Test item: (clips (views, 3, T, S, S), label) with views = 10 clips x 3 crops.

``crop="person"`` crops each video by its union person box (jittered, squared); ``crop="frame"``
is the RGBAction random-crop baseline (random squares of the whole frame, no box). Every random
choice comes from ``RandomState([seed, epoch, index])``: the same clip whatever the number of
workers, and a resumed run sees exactly what an uninterrupted one would.
"""
import logging
import os

import numpy as np
from mxnet import gluon

from data.batch import Batchify, ClipItem, Substituted
from data.pose_targets import disk_radius, encode_clip

from . import transforms as T
from .index import read_poses
from .video import VideoError, decoded_copy, read_frames

log = logging.getLogger(__name__)
UNREADABLE = (VideoError, OSError)  # a video or image that cannot be decoded
UNREADABLE_LABEL = -1  # Skippable's mark of a video that could not be read
MAX_SUBSTITUTES = 8  # a bad sample is replaced by the next one, at most this many times in a row


class PoseFileError(ValueError):
    """A missing or malformed pose file: an input error, never replaced by another sample."""


class ClipDataset(gluon.data.Dataset):
    """Samples of one split of a prepared dataset (see ``data.index``)."""

    def __init__(self, prepared, samples, boxes=None, mode="train", crop="person",
                 poses_dir=None, clip_len=8, stride=1, size=224, heatmap_stride=8, radius=None,
                 jitter=(0.1, 0.1), mirror=True, num_clips=10, seed=0, backend="cv2",
                 num_keypoints=17, crop_aspect=1.0, random_crop_scale=T.RANDOM_CROP_SCALE,
                 test_crop_scale=T.TEST_CROP_SCALE, min_confidence=0.0, decoded=None):
        if mode not in ("train", "test"):
            raise ValueError(f"mode must be 'train' or 'test', got {mode!r}")
        if crop not in ("person", "frame"):
            raise ValueError(f"crop must be 'person' or 'frame', got {crop!r}")
        if crop == "person":
            missing = [s["id"] for s in samples if s["id"] not in (boxes or {})]
            if missing:
                raise ValueError(f"{len(missing)} samples have no person box, first "
                                 f"{missing[0]!r}: run detect_persons (or use crop='frame')")
        if not samples:
            raise ValueError("no samples to load")
        self.prepared, self.samples, self.boxes = prepared, list(samples), boxes or {}
        self.mode, self.crop, self.poses_dir = mode, crop, poses_dir
        self.clip_len, self.stride, self.size = clip_len, stride, size
        self.heatmap_stride = heatmap_stride
        self.radius = radius if radius is not None else disk_radius(size, heatmap_stride)
        self.jitter, self.mirror, self.num_clips = jitter, mirror, num_clips
        self.seed, self.epoch, self.backend = seed, 0, backend
        self.num_keypoints = num_keypoints
        self.crop_aspect, self.random_crop_scale = crop_aspect, tuple(random_crop_scale)
        self.test_crop_scale, self.min_confidence = test_crop_scale, min_confidence
        self.decoded = decoded  # a folder of decoded copies of the videos (data.frame_cache)
        self._copies = {}  # video path -> its decoded copy, memory-mapped
        self._poses = {}  # sample id -> its checked pose array: a file is read once a process

    def set_epoch(self, epoch):
        self.epoch = epoch

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, index):
        try:
            return self._train_item(index) if self.mode == "train" else self._test_item(index)
        except UNREADABLE as err:  # say which video: the error may surface in another process
            raise VideoError(f"unreadable video {self.samples[index]['id']} "
                             f"({self.samples[index]['path']}): {err}") from None

    def name_of(self, index):
        return self.samples[index]["id"]

    # -- helpers --------------------------------------------------------------------------------
    def _frames(self, sample, indices):
        path = os.path.join(self.prepared, sample["path"])
        if self.decoded is None:
            return read_frames(path, indices, self.backend)
        if path not in self._copies:  # opened once a process: a clip then reads only its frames
            self._copies[path] = decoded_copy(path, os.path.join(self.decoded,
                                                                 sample["path"] + ".npy"))
        frames = self._copies[path]
        if max(indices) >= len(frames):
            raise VideoError(f"frame {max(indices)} requested, video has {len(frames)}")
        return np.asarray(frames[np.asarray(indices, dtype=int)])

    def _keypoints(self, sample, indices):
        """(len(indices), K, 3) from the pose file, or None."""
        if self.poses_dir is None:
            return None
        if sample["id"] not in self._poses:
            self._poses[sample["id"]] = self._read_poses(sample)
        poses = self._poses[sample["id"]]
        kps = poses[np.minimum(indices, len(poses) - 1)].astype(np.float32)
        # The third column is visibility (ground truth) or probability (pseudo-poses): a joint
        # is a target when it exceeds the threshold (data.pose_min_confidence).
        kps[..., 2] = kps[..., 2] > self.min_confidence
        return kps

    def _read_poses(self, sample):
        """The sample's pose file, checked: (frames, K, 3), finite."""
        try:
            poses = read_poses(self.poses_dir, sample["id"])
        except (OSError, ValueError) as err:  # a missing pose file is an error, never a skip
            raise PoseFileError(f"pose file of {sample['id']} in {self.poses_dir}: "
                                f"{getattr(err, 'strerror', None) or err}") from None
        if poses.ndim != 3 or poses.shape[1:] != (self.num_keypoints, 3) or not len(poses):
            raise PoseFileError(f"pose file of {sample['id']} in {self.poses_dir} has shape "
                                f"{poses.shape}, not (frames, {self.num_keypoints}, 3)")
        if not np.isfinite(poses).all():
            raise PoseFileError(f"pose file of {sample['id']} in {self.poses_dir} holds "
                                f"non-finite values")
        return poses

    def _train_item(self, i):
        sample = self.samples[i]
        rng = np.random.RandomState([self.seed, self.epoch, i])
        indices = T.train_indices(sample["frames"], self.clip_len, self.stride, rng)
        frames = self._frames(sample, indices)
        if self.crop == "person":
            box = T.square_box(T.jitter_box(self.boxes[sample["id"]], rng, *self.jitter),
                               self.crop_aspect)
        else:
            box = T.random_frame_box(frames.shape[2], frames.shape[1], rng,
                                     self.random_crop_scale)
        clip = T.crop_frames(frames, box, self.size)
        kps = self._keypoints(sample, indices)
        kps = None if kps is None else T.crop_keypoints(kps, box, self.size)
        if self.mirror and rng.uniform() < 0.5:
            clip, kps = T.mirror(clip, kps)
        hm = self.size // self.heatmap_stride
        if kps is None:
            K = self.num_keypoints
            heat = np.zeros((self.clip_len, K, hm, hm), np.float32)
            offsets = np.zeros((self.clip_len, K, 2, hm, hm), np.float32)
            weights = np.zeros((self.clip_len, K), np.float32)
        else:
            heat, offsets, weights = encode_clip(kps, (hm, hm), self.heatmap_stride, self.radius)
        return ClipItem(T.to_network(clip), np.int32(sample["label"]), heat, offsets, weights)

    def _test_item(self, i):
        sample = self.samples[i]
        clips_idx = T.test_indices(sample["frames"], self.clip_len, self.stride, self.num_clips)
        unique, inverse = np.unique(clips_idx, return_inverse=True)
        frames = self._frames(sample, unique)
        H, W = frames.shape[1:3]
        if self.crop == "person":
            boxes = T.test_crop_boxes(self.boxes[sample["id"]], self.test_crop_scale,
                                      self.crop_aspect)
        else:
            boxes = T.frame_test_boxes(W, H)
        # Clips overlap: each frame is cropped and normalised once a box, then gathered.
        crops = [T.to_network(T.crop_frames(frames, box, self.size)) for box in boxes]
        views = [crops[b][:, idx] for idx in inverse.reshape(clips_idx.shape)
                 for b in range(len(boxes))]  # each (3, T, S, S), clip-major, box-minor
        return np.stack(views), np.int32(sample["label"])


class Substitutes(gluon.data.Dataset):
    """Training only: an unreadable sample is replaced by the next readable one and counted.

    Items are ``Substituted(item, unreadable)`` (data/batch.py): the wrapped dataset's item and
    a flag (0 or 1), which the training loop sums per epoch (and stops past
    ``train.max_unreadable``). Evaluation never substitutes.
    """

    def __init__(self, dataset):
        self.dataset = dataset

    def set_epoch(self, epoch):
        self.dataset.set_epoch(epoch)

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, index):
        for attempt in range(MAX_SUBSTITUTES + 1):
            i = (index + attempt) % len(self.dataset)
            try:
                return Substituted(self.dataset[i], np.int32(attempt > 0))
            except UNREADABLE as err:
                log.warning("%s: replaced by the next sample", err)
        raise RuntimeError(f"{MAX_SUBSTITUTES + 1} unreadable samples in a row from "
                           f"{self.dataset.name_of(index)}: check the prepared data")


class Skippable(gluon.data.Dataset):
    """Evaluation with an explicit skip option: an unreadable test video gives the label
    ``UNREADABLE_LABEL`` and one blank view (MXNet's batching cannot carry zero views), so the
    caller can list it, with ``reason(index)``, and score the rest."""

    def __init__(self, dataset):
        self.dataset = dataset

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, index):
        try:
            return self.dataset[index]
        except UNREADABLE:
            d = self.dataset
            return np.zeros((1, 3, d.clip_len, d.size, d.size), np.float32), \
                np.int32(UNREADABLE_LABEL)

    def reason(self, index):
        """Why item ``index`` is unreadable (decoded again, in this process), or None."""
        try:
            self.dataset[index]
        except UNREADABLE as err:
            return str(err) or type(err).__name__
        return None


class EpochSampler(gluon.data.Sampler):
    """A seeded permutation per epoch (``set_epoch``), so a resumed run replays the same order.

    ``shard=(k, n, batch_size)``: worker k's (0-based) of n share of the epoch, for a job whose
    global batch is ``batch_size``: the k-th n-th of each whole global batch of the permutation
    (the last, partial batch is dropped, as one process drops it). The n shares are disjoint and
    their union is the one-process epoch, step by step: step s of worker k holds clips
    perm[s B + k B/n : s B + (k + 1) B/n]."""

    def __init__(self, length, shuffle=True, seed=0, shard=None):
        self.length, self.shuffle, self.seed, self.epoch = length, shuffle, seed, 0
        if shard is not None:
            k, n, batch_size = shard
            if not (0 <= k < n and batch_size % n == 0):
                raise ValueError(f"shard {k} of {n} of a batch of {batch_size}: needs "
                                 f"0 <= k < n and a batch divisible by n")
        self.shard = shard

    def set_epoch(self, epoch):
        self.epoch = epoch

    def __iter__(self):
        order = np.arange(self.length) if not self.shuffle else \
            np.random.RandomState([self.seed, self.epoch]).permutation(self.length)
        if self.shard is None:
            return iter(order)
        k, n, batch_size = self.shard
        share = batch_size // n
        steps = self.length // batch_size
        # (steps, n, share): whole global batches, each cut into the n workers' shares
        blocks = order[:steps * batch_size].reshape(steps, n, share)
        return iter(blocks[:, k].reshape(-1))

    def __len__(self):
        if self.shard is None:
            return self.length
        k, n, batch_size = self.shard
        return self.length // batch_size * (batch_size // n)


def make_loader(dataset, batch_size, shuffle=False, workers=0, last_batch="keep", seed=0,
                shard=None):
    """A DataLoader over ``dataset`` with an ``EpochSampler`` (returned as ``loader.sampler``).
    ``shard=(k, n)``: worker k's share (``EpochSampler``) of global batches of ``batch_size``;
    the loader's batches are then batch_size / n clips."""
    if shard is not None:
        shard = (shard[0], shard[1], batch_size)
        batch_size //= shard[1]
    sampler = EpochSampler(len(dataset), shuffle, seed, shard)
    batch_sampler = gluon.data.BatchSampler(sampler, batch_size, last_batch)
    loader = gluon.data.DataLoader(dataset, batch_sampler=batch_sampler, num_workers=workers,
                                   batchify_fn=Batchify(workers))
    loader.sampler = sampler
    return loader


def overlapped(items, queue):
    """``queue(item)`` for each of ``items`` (a loader), yielded one item late: the caller reads
    a result (which waits for MXNet's engine) only once the next item is loaded, so loading
    overlaps the queued computation. Order and count are those of ``items``."""
    pending, started = None, False
    for item in items:
        if started:
            yield pending
        pending, started = queue(item), True
    if started:
        yield pending
