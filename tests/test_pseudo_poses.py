"""The pseudo-pose pass: crop by the union box, decode, map back to the video's pixels."""
import numpy as np
import mxnet as mx

from pseudo_poses import label_video


class BlobFinder:
    """A stand-in pose network: every joint's heatmap is the crop's brightness pooled to the
    heatmap grid, so each joint is decoded at the brightest cell. Mirror-equivariant, as the
    real model should be, so flip averaging keeps the answer."""
    stride = 8

    def __call__(self, x):
        n, _, h, w = x.shape
        bright = x.mean(axis=1, keepdims=True)  # (n, 1, H, W)
        pooled = mx.nd.Pooling(bright, kernel=(8, 8), stride=(8, 8), pool_type="avg")
        heat = mx.nd.repeat(pooled * 10, 17, axis=1)  # (n, 17, H/8, W/8)
        return heat, mx.nd.zeros((n, 17, 2, h // 8, w // 8))


def test_keypoints_come_back_in_frame_pixels():
    T, H, W = 3, 144, 192
    yy, xx = np.mgrid[0:H, 0:W]
    truth = [(70.0, 50.0), (90.0, 100.0), (120.0, 75.0)]
    frames = np.stack([np.repeat((255 * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / 18.0))
                                 [..., None], 3, axis=2) for x, y in truth]).astype(np.uint8)
    box = np.array([50, 30, 140, 130], np.float32)  # the union box; crop is 4:3 around it
    kps = label_video(BlobFinder(), frames, box, (96, 128), radius=6.0, ctx=mx.cpu())
    assert kps.shape == (T, 17, 3)
    # The 4:3 crop of a 90x100 box maps 100 px to 128: one 8 px cell is ~6 px of the frame,
    # so the cell centre is within ~4.5 px of the blob.
    for t, (x, y) in enumerate(truth):
        err = np.hypot(kps[t, :, 0] - x, kps[t, :, 1] - y)
        assert err.max() < 5.0, (t, kps[t, 0], (x, y))
    assert ((kps[..., 2] > 0) & (kps[..., 2] < 1)).all()  # probabilities
