"""Keypoints from the pose head (paper Eq. (6)): argmax of each heatmap plus the offset there.

x_k = argmax_i h_k(x_i) + F_k(argmax) * M; confidence = ReLU(max_i h_k(x_i)) on the heatmap logits.
Joints that fall outside the crop keep their predicted coordinates. The decoder is wrapped in
BlockGrad: the argmax has no gradient, so the pose-action loss never reaches the pose head or the
backbone (paper footnote 2).

Known MXNet 1.9 (oneDNN, CPU) limitation: imperatively, a backward pass whose only path into the
pose head runs through this BlockGrad (a pose-CNN-only loss with a trainable pose head) crashes
inside MXNet. Every configuration of the paper is unaffected: with the pose loss on, or with the
pose head frozen (stage 2), or hybridized, backward runs.
"""
import numpy as np
from mxnet.gluon.block import HybridBlock


class KeypointDecoder(HybridBlock):
    """heat (N, T, K, H, W), offsets (N, T, K, 2, H, W) -> keypoints (N, T, K, 3): x, y, conf.

    x and y are in input pixels, or in [0, 1] of the input when ``input_size`` (h, w) is given.
    ``exportable``: the same keypoints from operators MXNet's ONNX exporter knows: it has no
    ``pick`` and refuses the reshape code -3, so the arg-max cell is read by a one-hot mask
    (exact: one term of the sum is non-zero) and the maps are flattened with -1.
    """

    def __init__(self, stride, radius, input_size=None, exportable=False, **kwargs):
        super().__init__(**kwargs)
        self.stride = float(stride)
        self.radius = float(radius)
        self.input_size = input_size
        self.exportable = exportable

    def hybrid_forward(self, F, heat, offsets):
        heat = F.BlockGrad(heat)
        offsets = F.BlockGrad(offsets)
        # Cell-centre coordinates in input pixels, broadcast to the heatmaps' shape.
        half = (self.stride - 1) / 2.0
        cols = F.contrib.arange_like(heat, axis=4) * self.stride + half  # (W,)
        rows = F.contrib.arange_like(heat, axis=3) * self.stride + half  # (H,)
        grid_x = F.broadcast_like(F.reshape(cols, shape=(1, 1, 1, 1, -1)), heat)
        grid_y = F.broadcast_like(F.reshape(rows, shape=(1, 1, 1, -1, 1)), heat)
        if self.exportable:
            return self._exportable(F, heat, offsets, grid_x, grid_y)
        flat = F.reshape(heat, shape=(0, 0, 0, -3))  # (N, T, K, H*W)
        best = F.argmax(flat, axis=-1)  # (N, T, K)
        conf = F.relu(F.max(flat, axis=-1))
        x = F.pick(F.reshape(grid_x, shape=(0, 0, 0, -3)), best, axis=-1)
        y = F.pick(F.reshape(grid_y, shape=(0, 0, 0, -3)), best, axis=-1)
        off = F.reshape(offsets, shape=(0, 0, 0, 0, -3))  # (N, T, K, 2, H*W)
        best2 = F.stack(best, best, axis=-1)  # (N, T, K, 2)
        off = F.pick(off, best2, axis=-1) * self.radius  # (N, T, K, 2) in pixels
        return self._keypoints(F, x, y, off, conf)

    def _exportable(self, F, heat, offsets, grid_x, grid_y):
        flat = F.reshape(heat, shape=(0, 0, 0, -1))  # (N, T, K, H*W)
        best = F.argmax(flat, axis=-1, keepdims=True)  # (N, T, K, 1)
        conf = F.relu(F.max(flat, axis=-1))
        cells = F.contrib.arange_like(flat, axis=3)  # (H*W,); the exporter needs axis >= 0
        one_hot = F.broadcast_equal(F.reshape(cells, shape=(1, 1, 1, -1)), best)
        x = F.sum(F.reshape(grid_x, shape=(0, 0, 0, -1)) * one_hot, axis=-1)  # (N, T, K)
        y = F.sum(F.reshape(grid_y, shape=(0, 0, 0, -1)) * one_hot, axis=-1)
        off = F.reshape(offsets, shape=(0, 0, 0, 0, -1))  # (N, T, K, 2, H*W)
        off = F.sum(F.broadcast_mul(off, F.expand_dims(one_hot, axis=3)), axis=-1)
        return self._keypoints(F, x, y, off * self.radius, conf)  # off (N, T, K, 2) in pixels

    def _keypoints(self, F, x, y, off, conf):
        x = x + F.squeeze(F.slice_axis(off, axis=-1, begin=0, end=1), axis=-1)
        y = y + F.squeeze(F.slice_axis(off, axis=-1, begin=1, end=2), axis=-1)
        if self.input_size is not None:
            x = x / float(self.input_size[1])
            y = y / float(self.input_size[0])
        return F.stack(x, y, conf, axis=-1)


def decode_pose_maps(heat, offsets, stride, radius, confidence="probability"):
    """The reference decoder in NumPy, for pose maps outside the network (COCO results,
    pseudo-poses); ``KeypointDecoder`` is tested against it.

    heat (..., K, H, W) logits, offsets (..., K, 2, H, W) in units of ``radius`` -> keypoints
    (..., K, 3) in input pixels: the cell centre of the heatmap's arg-max plus the offset there.
    The third column is ``confidence``: "probability", sigmoid of the maximum (the pose files'
    meaning), or "relu", ReLU of the maximum logit (the paper's input to the pose CNN).
    """
    heat, offsets = np.asarray(heat, np.float32), np.asarray(offsets, np.float32)
    H, W = heat.shape[-2:]
    flat = heat.reshape(*heat.shape[:-2], H * W)
    best = flat.argmax(axis=-1)  # (..., K)
    peak = np.take_along_axis(flat, best[..., None], axis=-1)[..., 0]
    off = offsets.reshape(*offsets.shape[:-2], H * W)  # (..., K, 2, H*W)
    off = np.take_along_axis(off, np.repeat(best[..., None, None], 2, axis=-2), axis=-1)[..., 0]
    half = (stride - 1) / 2.0
    x = (best % W) * stride + half + off[..., 0] * radius
    y = (best // W) * stride + half + off[..., 1] * radius
    if confidence == "probability":
        conf = 1 / (1 + np.exp(-peak))
    elif confidence == "relu":
        conf = np.maximum(peak, 0)
    else:
        raise ValueError(f"confidence is probability or relu, got {confidence!r}")
    return np.stack([x, y, conf], axis=-1).astype(np.float32)


def first_non_finite(heat, offsets):
    """Index (along the first axis) of the first item whose heatmaps or offsets hold a NaN or an
    inf, else None. Such maps decode to an arbitrary cell (the arg-max of NaN is 0), so a caller
    must stop rather than write or score them."""
    n = len(heat)
    ok = np.isfinite(np.reshape(heat, (n, -1))).all(axis=1) & \
        np.isfinite(np.reshape(offsets, (n, -1))).all(axis=1)
    return None if ok.all() else int(np.argmin(ok))
