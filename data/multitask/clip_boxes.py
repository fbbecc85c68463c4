"""Where a multitask test clip is cropped from (Luvizon et al. 2018, Sec. 5.2; ``eval.clip_box``):
the frames whose poses decide the box (the clip's first, middle and last), the box enclosing a
pose, the box of a clip's annotated joints, and the map of a whole frame onto the network's
square input for the initial pose prediction. Pure NumPy; ``data/multitask/clips.py`` crops
with them."""
import numpy as np

from data.multitask.pose_frames import crop_matrix


def clip_box_frames(indices):
    """A clip's frame numbers (T,) -> its first, middle and last (Sec. 5.2)."""
    indices = np.asarray(indices)
    return [int(indices[0]), int(indices[len(indices) // 2]), int(indices[-1])]


def pose_box(uv):
    """Joints (J, 2) in frame pixels -> the box (x1, y1, x2, y2) enclosing them all."""
    uv = np.asarray(uv, np.float64)
    return np.concatenate([uv.min(axis=0), uv.max(axis=0)])


def joints_box(keypoints, frames):
    """Annotated keypoints (T, J, 3) of a video and a clip's frame numbers -> the box
    (x1, y1, x2, y2) of its joints whose third column is > 0 on the clip's first, middle and
    last frames, or on all its frames where those have none; None if no frame of the clip has
    one."""
    for chosen in (clip_box_frames(frames), list(frames)):
        kps = np.asarray(keypoints)[chosen].reshape(-1, 3)
        known = (kps[:, 2] > 0) & np.isfinite(kps[:, :2]).all(axis=1)
        if known.any():
            return pose_box(kps[known, :2])
    return None


def whole_frame_matrix(height, width, size):
    """The 2x3 map of a whole H x W frame onto an S x S input: its square about the centre
    (side max(H, W), the shorter side padded), no margin."""
    return crop_matrix((-0.5, -0.5, width - 0.5, height - 0.5), size, margin=0.0)
