"""Class Activation Mapping (Zhou et al. 2016, the paper's [58]) for the RGB head: Figs. 1 and 5.

The RGB head is global average pool -> dropout -> FC (Eq. 1). With the backbone's last features
f_k(t, y, x) and the FC weights w_ck, the logit of class c is b_c + mean over (t, y, x) of

    CAM_c(t, y, x) = sum_k w_ck f_k(t, y, x)                          (Zhou et al., Eq. 2)

so the map says where in the clip the class's evidence lies; time is never pooled in the
backbone, so there is one map per input frame. Dropout is the identity at test time.

Layouts: clips (N, 3, T, S, S); features (N, C, T, h, w) with h = S / 32; maps (..., T, h, w),
upsampled (..., T, S, S). Boxes (x1, y1, x2, y2) are in the pixels of the map they are used
with, pixel centres at integer coordinates (as in data/transforms.py).
"""
import cv2
import numpy as np


def features_and_weights(net, clips):
    """An Action Machine's last backbone features on ``clips`` and its RGB classifier ->
    (features (N, C, T, h, w), weight (n, C), bias (n,)) as NumPy arrays."""
    features = net.backbone(clips).asnumpy()
    fc = net.rgb_head.fc
    return features, fc.weight.data().asnumpy(), fc.bias.data().asnumpy()


def class_activation_maps(features, weight, classes):
    """CAM_c = sum_k w_ck f_k for each clip's classes: features (N, C, T, h, w), weight (n, C),
    classes (N,) -> (N, T, h, w), or (N, m) -> (N, m, T, h, w)."""
    features = np.asarray(features, np.float64)
    classes = np.asarray(classes, int)
    w = np.asarray(weight, np.float64)[classes]  # (N, C) or (N, m, C)
    if classes.ndim == 1:
        return np.einsum("nk,nkthw->nthw", w, features).astype(np.float32)
    return np.einsum("nmk,nkthw->nmthw", w, features).astype(np.float32)


def upsample(maps, size):
    """(..., h, w) -> (..., size, size), bilinear. Cell i of the map covers input pixels
    [i s, (i + 1) s) with s = size / h, so its value sits at their centre: OpenCV's resize uses
    exactly these half-pixel centres (and repeats the border cells outward)."""
    maps = np.asarray(maps, np.float32)
    flat = maps.reshape(-1, *maps.shape[-2:])
    out = np.stack([cv2.resize(m, (size, size), interpolation=cv2.INTER_LINEAR) for m in flat])
    return out.reshape(*maps.shape[:-2], size, size)


def _inside(box, height, width):
    """(H, W) mask of the pixels whose centres lie in ``box``."""
    x1, y1, x2, y2 = box
    xs, ys = np.arange(width), np.arange(height)
    return ((ys >= y1) & (ys <= y2))[:, None] & ((xs >= x1) & (xs <= x2))[None, :]


def cam_mass(cam, person_box, object_box):
    """The share of the positive CAM mass inside the person box and inside the object's box.

    cam (H, W) or (T, H, W), any real values (its positive part is the mass); each box (4,) for
    every frame or (T, 4) one a frame, in the map's pixels (``visualize.box_in_crop`` maps
    frame boxes onto a crop). A pixel is inside a box when its centre is. -> (person share,
    object share), each in [0, 1]; where the boxes overlap a pixel counts for both. NaN for
    both when the map has no positive mass.
    """
    cam = np.maximum(np.asarray(cam, np.float64), 0)
    if cam.ndim == 2:
        cam = cam[None]
    T, H, W = cam.shape
    total = cam.sum()
    shares = []
    for box in (person_box, object_box):
        boxes = np.broadcast_to(np.asarray(box, np.float64), (T, 4))
        inside = sum((cam[t] * _inside(boxes[t], H, W)).sum() for t in range(T))
        shares.append(float(inside / total) if total > 0 else float("nan"))
    return tuple(shares)
