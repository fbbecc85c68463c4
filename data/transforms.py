"""The clip pipeline as pure functions (paper Sec. 4.3): frame sampling, person-box crops, mirror.

Layouts: frames (T, H, W, 3) uint8 RGB; network clips (3, T, S, S) float32; keypoints (..., K, 3)
as (x, y, visible) in pixels; boxes (x1, y1, x2, y2). Pixel centres sit at integer coordinates,
so an image W pixels wide spans [-0.5, W - 0.5] and the full-frame box is
(-0.5, -0.5, W - 0.5, H - 0.5). A crop maps its box edges onto the output's edges, and keypoints
go through the very same affine map as the pixels.
"""
import cv2
import numpy as np

from .keypoints import flip_keypoints

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)
# Defaults of the config keys that set them (configs/base.yaml says where each comes from).
TEST_CROP_SCALE = 256 / 224  # eval.test_crop_scale
RANDOM_CROP_SCALE = (0.8, 1.0)  # data.random_crop_scale


# ---- time -------------------------------------------------------------------------------------
def clip_span(clip_len, stride):
    return (clip_len - 1) * stride + 1


def fit_stride(num_frames, clip_len, stride):
    """The stride actually used: the largest <= ``stride`` whose clip fits the video (>= 1)."""
    while stride > 1 and clip_span(clip_len, stride) > num_frames:
        stride -= 1
    return stride


def clip_indices(num_frames, clip_len, stride, start):
    """Frame indices of one clip; a video too short even at stride 1 repeats its last frame."""
    stride = fit_stride(num_frames, clip_len, stride)
    return np.minimum(start + stride * np.arange(clip_len), num_frames - 1)


def train_indices(num_frames, clip_len, stride, rng):
    """A clip at a random start (paper: "the start frame is randomly sampled")."""
    span = clip_span(clip_len, fit_stride(num_frames, clip_len, stride))
    start = rng.randint(0, max(num_frames - span, 0) + 1)
    return clip_indices(num_frames, clip_len, stride, start)


def test_indices(num_frames, clip_len, stride, num_clips=10):
    """``num_clips`` clips with starts evenly spaced over the video -> (num_clips, clip_len)."""
    span = clip_span(clip_len, fit_stride(num_frames, clip_len, stride))
    starts = np.round(np.linspace(0, max(num_frames - span, 0), num_clips)).astype(int)
    return np.stack([clip_indices(num_frames, clip_len, stride, s) for s in starts])


# ---- boxes ------------------------------------------------------------------------------------
def full_frame_box(width, height):
    return np.array([-0.5, -0.5, width - 0.5, height - 0.5], np.float32)


def union_box(boxes):
    """The minimal box enclosing all ``boxes`` (N, 4) (paper Sec. 3, "Network input")."""
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    return np.array([boxes[:, 0].min(), boxes[:, 1].min(), boxes[:, 2].max(),
                     boxes[:, 3].max()], np.float32)


def square_box(box, aspect=1.0):
    """Extend the shorter side about the centre to height : width = ``aspect`` (1:1 for the
    video model: the text's "1 : 14" is 1 : 1, the output being 224x224)."""
    x1, y1, x2, y2 = box
    cx, cy, w, h = (x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1
    w, h = max(w, h / aspect), max(h, w * aspect)
    return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], np.float32)


def jitter_box(box, rng, center=0.1, size=0.1):
    """Random shift of the centre (fraction of width/height) and scale of width and height."""
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    cx = (x1 + x2) / 2 + rng.uniform(-center, center) * w
    cy = (y1 + y2) / 2 + rng.uniform(-center, center) * h
    w *= rng.uniform(1 - size, 1 + size)
    h *= rng.uniform(1 - size, 1 + size)
    return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], np.float32)


def test_crop_boxes(box, scale=TEST_CROP_SCALE, aspect=1.0):
    """Three crops of a person box: up-left, centre, down-right -> (3, 4). They are the three
    views of "resize to 256, crop 224" (non-local nets, the paper's [51]) applied to the box:
    crops of the box's size, shifted within the box enlarged ``scale`` times."""
    sq = square_box(box, aspect)
    shift = np.array([sq[2] - sq[0], sq[3] - sq[1]] * 2) * (scale - 1) / 2
    return np.stack([sq + shift * d for d in (-1, 0, 1)]).astype(np.float32)


def random_frame_box(width, height, rng, scale=RANDOM_CROP_SCALE):
    """The baseline's crop (RGBAction random crop): a random square of the whole frame."""
    side = min(width, height) * rng.uniform(*scale)
    x1 = rng.uniform(0, width - side) - 0.5
    y1 = rng.uniform(0, height - side) - 0.5
    return np.array([x1, y1, x1 + side, y1 + side], np.float32)


def frame_test_boxes(width, height):
    """The baseline's three test crops: squares of the short side at start, centre, end."""
    side = min(width, height)
    long_extent = max(width, height) - side
    boxes = []
    for f in (0.0, 0.5, 1.0):
        off = long_extent * f
        x1, y1 = (off, 0) if width >= height else (0, off)
        boxes.append([x1 - 0.5, y1 - 0.5, x1 + side - 0.5, y1 + side - 0.5])
    return np.array(boxes, np.float32)


# ---- pixels and keypoints ---------------------------------------------------------------------
def affine_crop_matrix(center, box_size, out_size, rotation=0.0):
    """2x3 map from image pixels to an ``out_size`` (W, H) crop of a box of ``box_size``
    (w, h) centred at ``center``, rotated by ``rotation`` degrees (counter-clockwise in the
    image). The box's edges land on the crop's edges (-0.5 and W - 0.5)."""
    (cx, cy), (bw, bh), (W, H) = center, box_size, out_size
    sx, sy = W / bw, H / bh
    a = np.deg2rad(rotation)
    c, s = np.cos(a), np.sin(a)
    # x' = S R (x - centre) + crop centre, R rotating the content by +rotation on screen
    linear = np.array([[sx * c, sx * s], [-sy * s, sy * c]])
    offset = np.array([(W - 1) / 2.0, (H - 1) / 2.0]) - linear @ np.array([cx, cy])
    return np.hstack([linear, offset[:, None]])


def invert_affine(m):
    """The inverse 2x3 map: crop pixels back to image pixels."""
    linear = np.linalg.inv(m[:, :2])
    return np.hstack([linear, -linear @ m[:, 2:]])


def apply_affine(points, m):
    """Keypoints (..., K, 3) or points (..., 2) through a 2x3 map; other columns unchanged."""
    out = np.array(points, np.float32, copy=True)
    xy = out[..., :2].astype(np.float64)
    out[..., 0] = xy[..., 0] * m[0, 0] + xy[..., 1] * m[0, 1] + m[0, 2]
    out[..., 1] = xy[..., 0] * m[1, 0] + xy[..., 1] * m[1, 1] + m[1, 2]
    return out


def crop_matrix(box, size):
    """2x3 map from image pixels to the pixels of a ``size`` x ``size`` crop of ``box``."""
    x1, y1, x2, y2 = box
    return affine_crop_matrix(((x1 + x2) / 2, (y1 + y2) / 2), (x2 - x1, y2 - y1),
                              (size, size))


def warp(image, m, out_size):
    """One image through a 2x3 map into ``out_size`` (W, H); outside the image is black."""
    return cv2.warpAffine(image, m, tuple(int(v) for v in out_size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def crop_frames(frames, box, size):
    """(T, H, W, 3) -> (T, size, size, 3); outside the frame is black."""
    m = crop_matrix(box, size)
    return np.stack([warp(f, m, (size, size)) for f in frames])


def crop_keypoints(keypoints, box, size):
    """Keypoints (..., K, 3) through the crop's affine map; visibility unchanged."""
    return apply_affine(keypoints, crop_matrix(box, size))


def mirror(frames, keypoints=None):
    """Horizontal mirror of (T, H, W, 3) frames; keypoints mirrored with left/right swapped."""
    flipped = np.ascontiguousarray(frames[:, :, ::-1])
    if keypoints is None:
        return flipped, None
    return flipped, flip_keypoints(keypoints, frames.shape[2])


def to_network(frames):
    """(T, S, S, 3) uint8 -> (3, T, S, S) float32, ImageNet mean/std normalised."""
    x = frames.astype(np.float32)
    x /= 255.0  # in place: the same float32 operations as (x / 255 - mean) / std, no temporaries
    x -= IMAGENET_MEAN
    x /= IMAGENET_STD
    return np.ascontiguousarray(x.transpose(3, 0, 1, 2))
