"""Pseudo-poses from a published COCO pose model: GluonCV's simple_pose family (Simple Baselines,
the pose method the paper builds on), so no COCO training is needed first.

    python pseudo_poses.py --pose-model gluoncv:simple_pose_resnet50_v1b \
        --prepared work/nucla/prepared --boxes work/nucla/boxes.json --out work/nucla/poses

The weights come through GluonCV's model zoo (downloaded once into ~/.mxnet/models) or from
``--weights FILE`` (a .params file of the same architecture, e.g. one saved on a machine with
internet). Each frame is cropped around its video's union person box as GluonCV's own pipeline
crops a detection (the box enlarged 1.25 times, made 3:4 like the 256 x 192 input), normalised
as in its training (ImageNet mean and std), and the heat maps are decoded by the model's own
convention (GluonCV's ``get_final_preds``): the arg-max cell, moved a quarter cell towards the
higher neighbour in x and in y, the cell i of a map 4 times smaller than the input at input
pixel 4 i, and the map's maximum as the joint's confidence (a joint whose maximum is not above
0 is at the crop's origin, as GluonCV masks it, with its confidence). With the flip test (on by
default, as GluonCV validates) the mirrored input's maps are mirrored back, left and right
swapped, shifted one column and averaged with the plain ones. The keypoints are mapped back to
the prepared video's pixels and written in the pose-file format: (T, 17, 3) a video, x, y and
the confidence in the third column, which data.pose_min_confidence thresholds.

COCO val2017 keypoint AP (OKS) of the published models at 256 x 192, as GluonCV's training logs
report them (``COCO_AP``): resnet18_v1b 66.3, resnet50_v1b 71.0, resnet101_v1b 72.4,
resnet152_v1b 72.5, resnet50_v1d 71.7, resnet101_v1d 73.0, resnet152_v1d 73.4.
"""
import numpy as np

from data.coco import crop_box, image_to_network
from data.keypoints import FLIP_PAIRS
from data.transforms import affine_crop_matrix, apply_affine, invert_affine, warp

from symbols.published_pose import BOX_SCALE, INPUT_SIZE


def decode(heatmaps, stride=4):
    """(N, K, h, w) heat maps -> (N, K, 3): x, y in input pixels and the maximum (GluonCV's
    get_final_preds before its map back to the image; module docstring)."""
    n, k, h, w = heatmaps.shape
    flat = heatmaps.reshape(n, k, -1)
    idx = flat.argmax(axis=2)
    peak = flat.max(axis=2)
    x, y = (idx % w).astype(np.float64), (idx // w).astype(np.float64)
    px, py = np.floor(x + 0.5).astype(int), np.floor(y + 0.5).astype(int)
    inner = (px > 1) & (px < w - 1) & (py > 1) & (py < h - 1)
    ni, ki = np.nonzero(inner)
    cy, cx = py[ni, ki], px[ni, ki]
    dx = heatmaps[ni, ki, cy, cx + 1] - heatmaps[ni, ki, cy, cx - 1]
    dy = heatmaps[ni, ki, cy + 1, cx] - heatmaps[ni, ki, cy - 1, cx]
    x[ni, ki] += 0.25 * np.sign(dx)
    y[ni, ki] += 0.25 * np.sign(dy)
    found = peak > 0
    return np.stack([x * stride * found, y * stride * found, peak], axis=-1)


def flip_back(heatmaps, pairs=FLIP_PAIRS):
    """The maps of a mirrored input -> maps of the plain one: mirrored, left and right joints
    swapped, shifted one column to the right (GluonCV's flip_heatmap with shift)."""
    out = heatmaps[..., ::-1].copy()
    for a, b in pairs:
        out[:, [a, b]] = out[:, [b, a]]
    out[..., 1:] = out[..., :-1].copy()
    return out


def crop_matrix(box):
    """The frame -> input affine map of a video's union box [x1, y1, x2, y2], as GluonCV's
    get_affine_transform makes it: the box's centre lands on (W / 2, H / 2) (its crops count
    pixel corners from 0, where this toolkit's count centres; so 0.5 more)."""
    x1, y1, x2, y2 = box
    w, h = (x2 - x1) * BOX_SCALE, (y2 - y1) * BOX_SCALE
    centre, size = crop_box([x1 + (x2 - x1 - w) / 2, y1 + (y2 - y1 - h) / 2, w, h],
                            INPUT_SIZE[1] / INPUT_SIZE[0])
    m = affine_crop_matrix(centre, size, INPUT_SIZE)
    m[:, 2] += 0.5
    return m


def label_video(net, frames, box, ctx, batch_size=32, flip=True):
    """frames (T, H, W, 3) -> keypoints (T, 17, 3) in frame pixels with the confidence;
    FloatingPointError at the first frame whose maps hold NaN or inf."""
    import mxnet as mx
    m = crop_matrix(box)
    crops = np.stack([image_to_network(warp(f, m, INPUT_SIZE)) for f in frames])
    out = []
    for start in range(0, len(crops), batch_size):
        x = mx.nd.array(crops[start:start + batch_size], ctx=ctx)
        heat = net(x).asnumpy()
        if flip:
            heat = (heat + flip_back(net(x.flip(axis=3)).asnumpy())) / 2
        if not np.isfinite(heat).all():
            bad = int(np.flatnonzero(~np.isfinite(heat).reshape(len(heat), -1).all(1))[0])
            raise FloatingPointError(f"non-finite heat maps (NaN or inf) at frame {start + bad}")
        stride = INPUT_SIZE[0] / heat.shape[3]
        out.append(decode(heat, stride))
    return apply_affine(np.concatenate(out), invert_affine(m))
