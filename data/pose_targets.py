"""Pose targets (paper Sec. 3, after G-RMI, Papandreou et al. 2017): disk heatmaps and offsets.

Layout: keypoints (K, 3) as (x, y, visible) in pixels of the network input (pixel centres at
integer coordinates); heatmap cell (i, j) stands for input position
p = (j * stride + (stride - 1) / 2, i * stride + (stride - 1) / 2).

- heatmap h_k(p) = 1 if ||p - l_k|| <= M else 0
- offset  F_k(p) = (l_k - p) / M, regressed in units of the radius M (SPEC ruling)
- weight  w_k = 1 for a labelled keypoint, 0 for an unlabelled one (no heatmap or offset loss).

The radius M is not given by the paper; the ruling follows G-RMI: 25 px on a 353 px-high crop,
scaled to the crop height actually fed to the network.
"""
import numpy as np

GRMI_RADIUS = 25.0
GRMI_CROP_HEIGHT = 353.0


def disk_radius(crop_height, stride=None, radius=GRMI_RADIUS,
                reference_height=GRMI_CROP_HEIGHT):
    """Radius M in input pixels for a network input ``crop_height`` pixels high.

    With ``stride`` (input pixels per heatmap cell) M is at least half a cell's diagonal, so
    every keypoint inside the crop has a positive cell; this matters only for small inputs
    (15.9 px at the paper's 224 against a floor of 5.7 px at stride 8).
    """
    m = radius * crop_height / reference_height
    return m if stride is None else max(m, stride * np.sqrt(0.5) + 1e-3)


def cell_centres(size, stride):
    """Input-pixel coordinate of each heatmap cell centre along one axis, shape (size,)."""
    return np.arange(size, dtype=np.float32) * stride + (stride - 1) / 2.0


def encode_pose(keypoints, heatmap_size, stride, radius):
    """keypoints (K, 3) -> heatmaps (K, H, W), offsets (K, 2, H, W), weights (K,), float32."""
    keypoints = np.asarray(keypoints, dtype=np.float32)
    H, W = heatmap_size
    xs = cell_centres(W, stride)[None, None, :]  # (1, 1, W)
    ys = cell_centres(H, stride)[None, :, None]  # (1, H, 1)
    dx = keypoints[:, 0, None, None] - xs  # (K, 1, W)
    dy = keypoints[:, 1, None, None] - ys  # (K, H, 1)
    weights = (keypoints[:, 2] > 0).astype(np.float32)
    inside = (dx ** 2 + dy ** 2) <= radius ** 2  # (K, H, W)
    heat = (inside & (weights[:, None, None] > 0)).astype(np.float32)
    offsets = np.stack(np.broadcast_arrays(dx, dy), axis=1) / radius  # (K, 2, H, W)
    offsets = (offsets * heat[:, None]).astype(np.float32)  # zero outside the disk
    return heat, offsets, weights


def encode_clip(keypoints, heatmap_size, stride, radius):
    """keypoints (T, K, 3) -> (T, K, H, W), (T, K, 2, H, W), (T, K): ``encode_pose`` of each
    frame, computed for the whole clip at once (the same operations, element by element)."""
    keypoints = np.asarray(keypoints, dtype=np.float32)
    T, K = keypoints.shape[:2]
    heat, offsets, weights = encode_pose(keypoints.reshape(T * K, 3), heatmap_size, stride,
                                         radius)
    H, W = heatmap_size
    return heat.reshape(T, K, H, W), offsets.reshape(T, K, 2, H, W), weights.reshape(T, K)
