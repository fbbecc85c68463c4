"""The 17 COCO keypoints, their left/right pairs, and horizontal flips of keypoints and pose maps.

Layouts: keypoints (..., K, 3) as (x, y, visible) in pixels with pixel centres at integer
coordinates, so a mirror of an image W pixels wide maps x to W - 1 - x. Pose maps: heatmaps
(..., K, H, W) and offsets (..., K, 2, H, W), as produced by ``symbols.pose_head``.
"""
import numpy as np

COCO_KEYPOINTS = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)
# Pairs of indices that swap under a mirror: (left_eye, right_eye), (left_ear, right_ear), ...
FLIP_PAIRS = tuple((i, i + 1) for i in range(1, len(COCO_KEYPOINTS), 2))


def flip_permutation(num_keypoints=len(COCO_KEYPOINTS), pairs=FLIP_PAIRS):
    """Index array p such that flipped[k] = original[p[k]]."""
    perm = np.arange(num_keypoints)
    for a, b in pairs:
        perm[a], perm[b] = b, a
    return perm


def flip_keypoints(keypoints, width, pairs=FLIP_PAIRS):
    """Mirror keypoints (..., K, 3) in an image ``width`` pixels wide and swap left/right."""
    keypoints = np.asarray(keypoints)
    out = keypoints[..., flip_permutation(keypoints.shape[-2], pairs), :].copy()
    out[..., 0] = width - 1 - out[..., 0]
    return out


def flip_pose_maps(heatmaps, offsets, pairs=FLIP_PAIRS):
    """The pose maps of the mirrored image: maps mirrored, x offsets negated, joints swapped."""
    perm = flip_permutation(heatmaps.shape[-3], pairs)
    heatmaps = heatmaps[..., perm, :, ::-1]
    offsets = offsets[..., perm, :, :, ::-1].copy()
    offsets[..., 0, :, :] *= -1
    return np.ascontiguousarray(heatmaps), offsets
