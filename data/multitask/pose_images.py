"""Training and test items of the soft-argmax pose model from the real datasets (MPII, Human3.6M,
Penn Action, NTU: data/multitask/pose_records.py) and their per-step mixtures (paper Appendix B).

Items are data/multitask/pose_frames.py's, from the same pure functions (``crop_matrix``,
``train_crop``, ``targets``) on the common layout (data/joints.py; the root is the pelvis,
joint 0):
- training: (image (3, S, S) float32, target (L, 3), mask (L, 3), visibility (L,)); a joint the
  dataset lacks or did not annotate is masked in all three coordinates, a joint without depth
  (MPII, Penn Action) in z alone, so a 2D sample trains x and y only;
- test: (image, matrix (2, 3) frame -> crop pixels, root depth () mm (NaN: 2D dataset),
  camera (4,) (NaN: unknown), index).

``PoseMixture`` draws every training batch with the configured shares (``data.mix_ratios``):
sample n of an epoch's stream is drawn by ``data.joints.mix_draws``, and the k-th draw of a
dataset is item k of its own shuffled passes (one permutation per pass, seeded). The stream
position of a loader index is the inverse of the training sampler's seeded order
(``data.loader.EpochSampler`` with train.seed and the epoch), so the batches training.fit makes
hold the exact shares. An epoch is as many samples as the datasets hold together, in whole
batches (the paper gives no epoch length for mixed data).
"""
import os

import numpy as np
from mxnet import gluon

from data import registry
from data import transforms as T
from data.batch import PoseItem
from data.coco import read_image
from data.joints import LAYOUTS, common_layout, flip_permutation, mix_draws
from data.loader import UNREADABLE, EpochSampler
from data.multitask import pose_frames as PF
from data.multitask.pose_records import read_records
from data.video import VideoError, read_frames

ROOT = 0  # the pelvis: joint 0 of every pa layout
MIX = registry.MIX


class PoseImages(gluon.data.Dataset):
    """The items of one source's records (data/multitask/pose_records.py) in ``layout``."""

    def __init__(self, records, layout, mode="train", size=256, margin=PF.CROP_MARGIN,
                 depth_range=PF.DEPTH_RANGE_MM, scale=0.3, rotation=45.0, rotation_prob=1.0,
                 translation=PF.TRANSLATION, flip=True, seed=0, backend="cv2", name="images",
                 outside="drop"):
        if mode not in ("train", "test"):
            raise ValueError(f"mode must be 'train' or 'test', got {mode!r}")
        if not len(records["path"]):
            raise ValueError(f"no {name} items to load")
        self.records, self.layout, self.mode, self.name = records, layout, mode, name
        self.outside = outside  # a joint outside the crop: PF.targets' "drop" or "keep"
        self.size, self.margin, self.depth_range = size, margin, depth_range
        self.scale, self.rotation, self.rotation_prob = scale, rotation, rotation_prob
        self.translation, self.flip = translation, flip
        self.seed, self.epoch, self.backend = seed, 0, backend
        self.flip_permutation = flip_permutation(layout)
        self.shift = (0.0, 0.0)  # test crops: the window's shift, a share of its side

    def set_epoch(self, epoch):
        self.epoch = epoch

    def __len__(self):
        return len(self.records["path"])

    def name_of(self, index):
        r = self.records
        where = f" frame {r['frame'][index]}" if r["frame"][index] >= 0 else ""
        return f"{self.name} item {index} ({r['path'][index]}{where})"

    def has_3d(self):
        """Whether every valid joint has its depth (Human3.6M, NTU): MPJPE can score it."""
        return bool(np.isfinite(self.records["depth"][self.records["valid"]]).all())

    def root_depth(self, index):
        return self.records["depth"][index, ROOT]

    def matrix(self, index):
        """The test crop's map: the centred crop, its window moved by ``shift`` x its side."""
        m = PF.crop_matrix(self.records["box"][index], self.size, self.margin)
        return PF.shifted(m, self.shift, self.size)

    def image(self, index):
        path, frame = self.records["path"][index], int(self.records["frame"][index])
        try:
            return read_frames(path, [frame], self.backend)[0] if frame >= 0 else \
                read_image(path)
        except UNREADABLE as err:  # say which item: the error may surface in another process
            raise VideoError(f"unreadable {self.name_of(index)}: {err}") from None

    def __getitem__(self, index):
        frame = self.image(index)
        r = self.records
        if self.mode == "test":
            m = self.matrix(index)
            crop = T.warp(frame, m, (self.size, self.size))
            return (T.to_network(crop[None])[:, 0], m.astype(np.float32),
                    np.float32(self.root_depth(index)), r["camera"][index].astype(np.float32),
                    np.int32(index))
        rng = np.random.RandomState([self.seed, self.epoch, index])
        keypoints = np.concatenate([r["joints"][index], r["valid"][index, :, None]], axis=1)
        keypoints[~r["valid"][index], :2] = 0.0  # unannotated: anything finite, masked below
        crop, kps, depth = PF.train_crop(
            frame, r["box"][index], keypoints, r["depth"][index], rng, self.size, self.margin,
            self.scale, self.rotation, self.rotation_prob, self.translation, self.flip,
            self.flip_permutation)
        target, mask, visibility = PF.targets(kps, depth, self.root_depth(index), self.size,
                                              depth_range=self.depth_range, outside=self.outside)
        return PoseItem(T.to_network(crop[None])[:, 0], target, mask, visibility)


class PoseMixture(gluon.data.Dataset):
    """Training items of ``datasets`` drawn per step with ``ratios`` (module docstring)."""

    def __init__(self, datasets, ratios, batch_size, seed=0):
        if len(datasets) != len(ratios) or len(datasets) < 2:
            raise ValueError(f"a mixture needs one ratio per dataset and at least two datasets, "
                             f"got {len(datasets)} datasets and {len(ratios)} ratios")
        self.datasets, self.ratios, self.seed = list(datasets), list(ratios), seed
        self.length = sum(len(d) for d in datasets) // batch_size * batch_size
        if not self.length:
            raise ValueError(f"the mixed datasets hold {sum(len(d) for d in datasets)} items, "
                             f"fewer than a batch ({batch_size})")
        self.set_epoch(0)

    def set_epoch(self, epoch):
        self.epoch = epoch
        for d in self.datasets:
            d.set_epoch(epoch)
        sampler = EpochSampler(self.length, True, self.seed)
        sampler.set_epoch(epoch)
        self.position = np.empty(self.length, int)
        self.position[np.fromiter(iter(sampler), int, self.length)] = np.arange(self.length)
        self._passes = {}

    def __len__(self):
        return self.length

    def source_of(self, index):
        """(dataset index, item index) of loader index ``index`` in this epoch."""
        n = self.epoch * self.length + self.position[index]  # the stream runs across epochs
        d, k = (int(v[0]) for v in mix_draws(self.ratios, n, 1, self.seed))
        size = len(self.datasets[d])
        key = (d, k // size)
        if key not in self._passes:
            self._passes[key] = np.random.RandomState([self.seed, d, k // size]).permutation(size)
        return d, int(self._passes[key][k % size])

    def name_of(self, index):
        d, i = self.source_of(index)
        return self.datasets[d].name_of(i)

    def __getitem__(self, index):
        d, i = self.source_of(index)
        return self.datasets[d][i]


# ---- from a pose config (configs/pose/base.yaml: data.source and its keys) --------------------
def sources_of(cfg):
    """The datasets a real-data pose config trains on: [data.source], or data.mix."""
    d = cfg["data"]
    if d["source"] != MIX:
        return [d["source"]]
    sources = registry.names("reader")
    unknown = [s for s in d["mix"] if s not in sources]
    if len(d["mix"]) < 2 or unknown or len(set(d["mix"])) != len(d["mix"]):
        raise ValueError(f"data.mix is {d['mix']}; data.source mix needs two or more different "
                         f"datasets of {', '.join(sources)}")
    if len(d["mix_ratios"]) != len(d["mix"]):
        raise ValueError(f"data.mix_ratios {d['mix_ratios']} needs one share per dataset of "
                         f"data.mix {d['mix']}")
    return list(d["mix"])


def layout_of(cfg):
    """data.layout, or the paper's rule: the smallest pa layout as large as the dataset with
    most joints (Appendix B)."""
    return cfg["data"]["layout"] or common_layout(sources_of(cfg))


def test_source_of(cfg):
    """The dataset validated and tested: data.test_source, or the first trained on."""
    source = cfg["data"]["test_source"] or sources_of(cfg)[0]
    if cfg["data"]["source"] != MIX and source != cfg["data"]["source"]:
        raise ValueError(f"data.test_source {source} differs from data.source "
                         f"{cfg['data']['source']}")
    return source


def _dataset(cfg, source, split, mode, keep=None):
    d = cfg["data"]
    records = read_records(source, d[root_key(source)], split, layout_of(cfg), d["frame_step"])
    if keep is not None:
        records = {k: v[keep(records)] for k, v in records.items()}
    return PoseImages(records, layout_of(cfg), mode, size=d["input_size"][0],
                      margin=d["crop_margin"], depth_range=d["depth_range_mm"], scale=d["scale"],
                      rotation=d["rotation"], rotation_prob=d["rotation_prob"],
                      translation=d["translation"], flip=d["flip"], seed=cfg["train"]["seed"],
                      name=f"{source} {split}", outside=d["outside_joints"])


def held_out(records, share, seed):
    """(N,) bool: the items of ``share`` of the groups (images, videos), chosen by ``seed``."""
    groups = sorted(set(records["group"]))
    if share <= 0:
        return np.zeros(len(records["group"]), bool)
    count = max(1, int(round(share * len(groups))))
    if count >= len(groups):
        raise ValueError(f"holding out {share:g} of {len(groups)} groups for validation leaves "
                         f"none to train on")
    held = {groups[i] for i in np.random.RandomState(seed).permutation(len(groups))[:count]}
    return np.isin(records["group"], list(held))


def pose_images(cfg, split):
    """The items of a real-data pose config: 'train' (every trained dataset, less the test
    dataset's validation groups; mixed per step when data.source is mix), 'val'
    (data.val_share of the test dataset's training groups) or 'test' (its test split)."""
    d, seed = cfg["data"], cfg["train"]["seed"]
    test_source = test_source_of(cfg)
    if split == "test":
        return _dataset(cfg, test_source, "test", "test")
    if split == "val":
        return _dataset(cfg, test_source, "train", "test",
                        lambda r: held_out(r, d["val_share"], seed))
    if split != "train":
        raise ValueError(f"split is train, val or test, got {split!r}")
    datasets = [_dataset(cfg, s, "train", "train",
                         (lambda r: ~held_out(r, d["val_share"], seed)) if s == test_source
                         else None) for s in sources_of(cfg)]
    if d["source"] != MIX:
        return datasets[0]
    return PoseMixture(datasets, d["mix_ratios"], cfg["train"]["batch_size"], seed)


def num_joints(cfg):
    """Joints of the model a soft-argmax pose config trains: its layout's, or COCO's 17 on the
    synthetic benchmark."""
    return 17 if cfg["data"]["source"] == "synth" else len(LAYOUTS[layout_of(cfg)])


def root_key(source):
    """The pose config key under data of a records source's folder (data/registry.py)."""
    return registry.dataset(source, "reader").root_key


def check_roots(cfg):
    """Each dataset folder the config reads exists: a missing one is a FileNotFoundError."""
    for source in sources_of(cfg):
        root = cfg["data"][root_key(source)]
        if not os.path.isdir(root):
            raise FileNotFoundError(f"data.{root_key(source)}: no such folder {root} (README: "
                                    f"where to put {source})")
