"""COCO person keypoints for the 2D pose model (paper Sec. 4.2), read with pycocotools.

Crops: the person box made to aspect height : width = 4 : 3 by extending the shorter side, then
cropped and resized to the input (W, H) = (288, 384). Training augmentation: scale +-30 %,
rotation +-30 degrees, horizontal flip with left/right joints swapped. Targets: the same disk
heatmaps and offsets as the video model (symbols.pose_targets). Keypoints (K, 3) as (x, y, v) and
boxes [x, y, w, h] in COCO's own pixel coordinates, used as they are, in and out.

Train item: (image (3, H, W) float32, heatmaps (K, H/s, W/s), offsets (K, 2, H/s, W/s),
weights (K,)). Test item: (image, its mirror, index) with ``records[index]`` holding the image id,
box, score and the crop's 2x3 map, to put keypoints back into the image.
"""
import os

import cv2
import numpy as np
from mxnet import gluon

from data.batch import HeatmapItem
from data.pose_targets import disk_radius, encode_pose

from . import transforms as T
from .keypoints import flip_keypoints

ASPECT = 4.0 / 3.0  # height : width of the person crop (pose config data.aspect)
ROTATION_PROB = 0.6  # share of training crops that are rotated (pose config data.rotation_prob)


def crop_box(box, aspect=ASPECT):
    """COCO box [x, y, w, h] -> (centre, (w, h)) extended to height / width = ``aspect``."""
    x, y, w, h = box
    centre = (x + w / 2.0, y + h / 2.0)
    if h / max(w, 1e-6) > aspect:
        w = h / aspect
    else:
        h = w * aspect
    return centre, (w, h)


def read_image(path):
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        raise OSError(f"cannot read image {path}")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def image_to_network(image):
    """(H, W, 3) uint8 -> (3, H, W) float32, ImageNet-normalised (as the video clips)."""
    return T.to_network(image[None])[:, 0]


class CocoPose(gluon.data.Dataset):
    """Person instances of a COCO keypoints file.

    ``mode="train"``: ground-truth instances with at least ``min_keypoints`` labelled keypoints.
    ``mode="test"``: one item per box, from ``detections`` (a COCO results list of person boxes,
    {"image_id", "bbox", "score"}) or, without it, the ground-truth boxes (score 1).
    """

    def __init__(self, ann_file, image_dir, mode="train", input_size=(288, 384),
                 heatmap_stride=8, radius=None, scale=0.3, rotation=30.0, flip=True,
                 detections=None, min_keypoints=1, seed=0, aspect=ASPECT,
                 rotation_prob=ROTATION_PROB):
        from pycocotools.coco import COCO
        self.coco = COCO(ann_file)
        self.image_dir, self.mode, self.input_size = image_dir, mode, tuple(input_size)
        self.heatmap_stride = heatmap_stride
        self.radius = radius if radius is not None else disk_radius(input_size[1], heatmap_stride)
        self.scale, self.rotation, self.flip = scale, rotation, flip
        self.aspect, self.rotation_prob = aspect, rotation_prob
        self.seed, self.epoch = seed, 0
        person = self.coco.getCatIds(catNms=["person"])
        self.records = []
        if mode == "train":
            for ann in self.coco.loadAnns(self.coco.getAnnIds(catIds=person, iscrowd=False)):
                if ann["num_keypoints"] >= min_keypoints and ann["bbox"][2] > 1 \
                        and ann["bbox"][3] > 1:
                    kps = np.array(ann["keypoints"], np.float32).reshape(-1, 3)
                    self.records.append(dict(image_id=ann["image_id"], box=ann["bbox"],
                                             keypoints=kps, score=1.0))
        else:
            boxes = detections if detections is not None else [
                dict(image_id=a["image_id"], bbox=a["bbox"], score=1.0)
                for a in self.coco.loadAnns(self.coco.getAnnIds(catIds=person, iscrowd=False))]
            self.records = [dict(image_id=d["image_id"], box=d["bbox"], score=d["score"])
                            for d in boxes if d["bbox"][2] > 1 and d["bbox"][3] > 1]
        if not self.records:
            raise ValueError(f"no usable person instance in {ann_file} ({mode})")

    def set_epoch(self, epoch):
        self.epoch = epoch

    def __len__(self):
        return len(self.records)

    def name_of(self, index):
        return f"image {self.records[index]['image_id']}"

    def image(self, image_id):
        info = self.coco.loadImgs(image_id)[0]
        return read_image(os.path.join(self.image_dir, info["file_name"]))

    def matrix(self, index, rng=None):
        """The crop's 2x3 map; with ``rng``, randomly scaled and rotated (training)."""
        centre, size = crop_box(self.records[index]["box"], self.aspect)
        s, r = 1.0, 0.0
        if rng is not None:
            s = rng.uniform(1 - self.scale, 1 + self.scale)
            r = rng.uniform(-self.rotation, self.rotation) if rng.uniform() < self.rotation_prob \
                else 0.0
        return T.affine_crop_matrix(centre, (size[0] * s, size[1] * s), self.input_size, r)

    def __getitem__(self, index):
        rec = self.records[index]
        image = self.image(rec["image_id"])
        W, H = self.input_size
        if self.mode == "test":
            crop = T.warp(image, self.matrix(index), self.input_size)
            return image_to_network(crop), image_to_network(crop[:, ::-1]), np.int32(index)
        rng = np.random.RandomState([self.seed, self.epoch, index])
        m = self.matrix(index, rng)
        crop = T.warp(image, m, self.input_size)
        kps = T.apply_affine(rec["keypoints"], m)
        if self.flip and rng.uniform() < 0.5:
            crop, kps = np.ascontiguousarray(crop[:, ::-1]), flip_keypoints(kps, W)
        hm = (H // self.heatmap_stride, W // self.heatmap_stride)
        heat, offsets, weights = encode_pose(kps, hm, self.heatmap_stride, self.radius)
        return HeatmapItem(image_to_network(crop), heat, offsets, weights)
