"""Soft-argmax of Luvizon et al. 2018: joint coordinates as the expectation of soft-maxed heat maps
(paper Sec. 3.1.2, Eq. 2), extended to 3D with volumetric heat maps (Sec. 3.2, Fig. 4), and joint
visibility from the maps' maximum (Sec. 3.1.3).

From the paper: the softmax over each map gives a probability map; x, y are the expected
normalised column and row; (x, y) come from the heat maps averaged over the Nd depth maps, z from
a 1D soft-argmax over the volume averaged over x and y; visibility is a sigmoid of a maximum.

From the cvpr18 code (``pose_regression_3d`` in deephar/models/reception.py, deephar/layers.py
``lin_interpolation_1d/2d``, deephar/utils/math.py ``linspace_2d``, deephar/activations.py):
- the regression layer emits Nd x J maps; channel ``d * J + j`` is depth bin d of joint j;
- the coordinate of cell c of an n-cell axis is ``linspace(0, 1, n)[c] = c / (n - 1)``, so the
  first and last cells are 0 and 1 and a flat map gives 0.5 (Eq. 2 writes c / W; we follow the
  code, where a flat map is the centre);
- visibility = sigmoid(max over (y, x) of the depth-averaged maps + max over depth of the
  space-averaged maps). (The cvpr18 action model rescales this logit by 2, or by 4 for its 2D
  maps, before the sigmoid; we keep the pose model's form.)

Layouts: volumetric heat maps (B, Nd*J, H, W) logits; pose (B, J, 3) with x, y, z in [0, 1];
visibility (B, J) in (0, 1); probability maps (B, J, H, W), each summing to 1.

``ContextSoftArgmax`` is the 2D regression of the paper's ref. [28] (Luvizon et al. 2017), which the
paper's Table 2 "2D Soft-argmax" and its MPII and Penn Action pose models use (cvpr18 code:
``pose_regression_2d_context`` and ``build_context_aggregation`` in deephar/models/reception.py
and blocks.py, ``num_context_per_joint=2``, ``alpha=0.8``): per joint one sharp map and C context
maps, J + C*J channels (the J sharp maps first, then joint j's C context maps at J + j*C ...
J + (j+1)*C - 1). Each map's 2D soft-argmax is a position; joint j's context position is the mean
of its C positions weighted by their probabilities sigmoid(max); the pose is alpha x the sharp
position + (1 - alpha) x the context position; visibility is sigmoid(max) of the sharp map, and
the probability maps are the sharp maps'. A 2D model predicts no depth: z is 0.5, the middle of
the depth range, and carries no gradient.

``SoftArgmaxKeypoints`` is the 2D form on Action Machine's heat-map layout (N, T, K, H, W), on
Action Machine's pixel grid, without a BlockGrad: a differentiable replacement for its arg-max
decoder (symbols/pose_decoder.py).
"""
import numpy as np
from mxnet.gluon.block import HybridBlock


def _softmax(a, axis):
    e = np.exp(a - a.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def soft_argmax(heat, depth_bins):
    """The NumPy reference of ``SoftArgmax``: heat (B, Nd*J, H, W) -> pose (B, J, 3) in [0, 1],
    visibility (B, J), probability maps (B, J, H, W). All in float64."""
    heat = np.asarray(heat, np.float64)
    B, C, H, W = heat.shape
    vol = heat.reshape(B, depth_bins, C // depth_bins, H, W)
    hxy = vol.mean(axis=1)  # (B, J, H, W)
    hz = vol.mean(axis=(3, 4)).transpose(0, 2, 1)  # (B, J, Nd)
    prob = _softmax(hxy.reshape(B, -1, H * W), -1).reshape(hxy.shape)
    x = (prob.sum(axis=2) * np.linspace(0, 1, W)).sum(-1)
    y = (prob.sum(axis=3) * np.linspace(0, 1, H)).sum(-1)
    z = (_softmax(hz, -1) * np.linspace(0, 1, depth_bins)).sum(-1)
    logit = hxy.max(axis=(2, 3)) + hz.max(axis=-1)
    return np.stack([x, y, z], -1), 1 / (1 + np.exp(-logit)), prob


def context_soft_argmax(heat, num_joints, context, alpha):
    """The NumPy reference of ``ContextSoftArgmax``: heat (B, (1 + C) * J, H, W) -> pose (B, J, 3)
    (z 0.5), visibility (B, J), probability maps (B, J, H, W) of the sharp maps. In float64."""
    heat = np.asarray(heat, np.float64)
    B, _, H, W = heat.shape
    J = num_joints

    def positions(maps):  # (B, M, H, W) -> (B, M, 2) in [0, 1], probability (B, M), prob maps
        prob = _softmax(maps.reshape(B, maps.shape[1], H * W), -1).reshape(maps.shape)
        x = (prob.sum(axis=2) * np.linspace(0, 1, W)).sum(-1)
        y = (prob.sum(axis=3) * np.linspace(0, 1, H)).sum(-1)
        return np.stack([x, y], -1), 1 / (1 + np.exp(-maps.max(axis=(2, 3)))), prob

    sharp, visible, prob = positions(heat[:, :J])
    ctx, weight = positions(heat[:, J:])[:2]
    ctx, weight = ctx.reshape(B, J, context, 2), weight.reshape(B, J, context, 1)
    context_xy = (ctx * weight).sum(2) / weight.sum(2)
    xy = alpha * sharp + (1 - alpha) * context_xy
    return np.concatenate([xy, np.full((B, J, 1), 0.5)], -1), visible, prob


def soft_argmax_keypoints(heat, stride, input_size=None, confidence="sigmoid"):
    """The NumPy reference of ``SoftArgmaxKeypoints``: heat (..., K, H, W) -> (..., K, 3)."""
    heat = np.asarray(heat, np.float64)
    H, W = heat.shape[-2:]
    prob = _softmax(heat.reshape(*heat.shape[:-2], H * W), -1).reshape(heat.shape)
    half = (stride - 1) / 2.0
    x = (prob.sum(axis=-2) * (np.arange(W) * stride + half)).sum(-1)
    y = (prob.sum(axis=-1) * (np.arange(H) * stride + half)).sum(-1)
    if input_size is not None:
        x, y = x / input_size[1], y / input_size[0]
    peak = heat.max(axis=(-2, -1))
    conf = 1 / (1 + np.exp(-peak)) if confidence == "sigmoid" else np.maximum(peak, 0)
    return np.stack([x, y, conf], -1)


def _expectation_2d(F, heat):
    """heat (B, J, H, W) logits -> probability maps (B, J, H, W) and the expected column and row
    index, each (B, J), in cells."""
    prob = F.reshape_like(F.softmax(F.reshape(heat, shape=(0, 0, -3)), axis=-1), heat)
    cols = F.reshape(F.contrib.arange_like(heat, axis=3), shape=(1, 1, -1))  # (1, 1, W)
    rows = F.reshape(F.contrib.arange_like(heat, axis=2), shape=(1, 1, -1))  # (1, 1, H)
    col = F.sum(F.broadcast_mul(F.sum(prob, axis=2), cols), axis=-1)  # marginal over rows
    row = F.sum(F.broadcast_mul(F.sum(prob, axis=3), rows), axis=-1)
    return prob, col, row


def _last_index(F, heat, axis):
    """n - 1 for the n cells of ``axis`` (at least 1), as a (1,) array: cell c sits at c / it."""
    return F.maximum(F.max(F.contrib.arange_like(heat, axis=axis)), 1.0)


class SoftArgmax(HybridBlock):
    """Eq. (2) on volumetric heat maps (Fig. 4): heat (B, Nd*J, H, W) -> pose (B, J, 3) in [0, 1],
    visibility (B, J), probability maps (B, J, H, W). No parameters."""

    def __init__(self, depth_bins, **kwargs):
        super().__init__(**kwargs)
        self.depth_bins = depth_bins

    def hybrid_forward(self, F, heat):
        vol = F.reshape(heat, shape=(0, -4, self.depth_bins, -1, 0, 0))  # (B, Nd, J, H, W)
        hxy = F.mean(vol, axis=1)  # (B, J, H, W)
        hz = F.transpose(F.mean(vol, axis=(3, 4)), axes=(0, 2, 1))  # (B, J, Nd)
        prob, col, row = _expectation_2d(F, hxy)
        x = F.broadcast_div(col, _last_index(F, hxy, 3))
        y = F.broadcast_div(row, _last_index(F, hxy, 2))
        depth = F.reshape(F.contrib.arange_like(hz, axis=2), shape=(1, 1, -1))  # (1, 1, Nd)
        z = F.sum(F.broadcast_mul(F.softmax(hz, axis=-1), depth), axis=-1) / max(
            self.depth_bins - 1, 1)
        visible = F.sigmoid(F.max(hxy, axis=(2, 3)) + F.max(hz, axis=2))
        return F.stack(x, y, z, axis=-1), visible, prob


class ContextSoftArgmax(HybridBlock):
    """Ref. [28]'s 2D regression with context maps: heat (B, (1 + C) * J, H, W) -> pose (B, J, 3)
    (x, y in [0, 1], z 0.5), visibility (B, J), the sharp maps' probability maps (B, J, H, W).
    No parameters."""

    def __init__(self, num_joints, context=2, alpha=0.8, **kwargs):
        super().__init__(**kwargs)
        if context < 1:
            raise ValueError(f"context maps per joint must be >= 1, got {context}")
        self.num_joints, self.context, self.alpha = num_joints, context, alpha

    def hybrid_forward(self, F, heat):
        J, C = self.num_joints, self.context
        sharp = F.slice_axis(heat, axis=1, begin=0, end=J)  # (B, J, H, W)
        ctx = F.slice_axis(heat, axis=1, begin=J, end=None)  # (B, C*J, H, W), joint-major
        prob, col, row = _expectation_2d(F, sharp)
        _, ccol, crow = _expectation_2d(F, ctx)
        x = F.broadcast_div(col, _last_index(F, heat, 3))  # (B, J)
        y = F.broadcast_div(row, _last_index(F, heat, 2))
        cx = F.broadcast_div(ccol, _last_index(F, heat, 3))  # (B, C*J)
        cy = F.broadcast_div(crow, _last_index(F, heat, 2))
        weight = F.sigmoid(F.max(ctx, axis=(2, 3)))  # (B, C*J)
        # (B, C*J) -> (B, J, C): joint j's C context maps, weighted by their probabilities
        total = F.sum(F.reshape(weight, shape=(0, -4, J, C)), axis=-1)  # (B, J)
        cx = F.sum(F.reshape(cx * weight, shape=(0, -4, J, C)), axis=-1) / total
        cy = F.sum(F.reshape(cy * weight, shape=(0, -4, J, C)), axis=-1) / total
        x = self.alpha * x + (1 - self.alpha) * cx
        y = self.alpha * y + (1 - self.alpha) * cy
        z = F.zeros_like(x) + 0.5  # a 2D model: the middle of the depth range
        visible = F.sigmoid(F.max(sharp, axis=(2, 3)))
        return F.stack(x, y, z, axis=-1), visible, prob


class SoftArgmaxKeypoints(HybridBlock):
    """heat (N, T, K, H, W) logits -> keypoints (N, T, K, 3): x, y, confidence.

    x, y: the soft-argmax on Action Machine's grid (cell c at c * stride + (stride - 1) / 2 input
    pixels), in input pixels, or in [0, 1] of the input when ``input_size`` (h, w) is given.
    confidence: "sigmoid" of the maximum logit (Sec. 3.1.3) or "relu" of it (Action Machine's
    pose-CNN input). Differentiable: gradients reach the heat maps.
    """

    def __init__(self, stride, input_size=None, confidence="sigmoid", **kwargs):
        super().__init__(**kwargs)
        if confidence not in ("sigmoid", "relu"):
            raise ValueError(f"confidence is sigmoid or relu, got {confidence!r}")
        self.stride = float(stride)
        self.input_size = input_size
        self.confidence = confidence

    def hybrid_forward(self, F, heat):
        maps = F.reshape(heat, shape=(-3, 0, 0, 0))  # (N, T, K, H, W) -> (N*T, K, H, W)
        _, col, row = _expectation_2d(F, maps)
        half = (self.stride - 1) / 2.0
        x, y = col * self.stride + half, row * self.stride + half  # (N*T, K) input pixels
        if self.input_size is not None:
            x, y = x / float(self.input_size[1]), y / float(self.input_size[0])
        peak = F.max(maps, axis=(2, 3))
        conf = F.sigmoid(peak) if self.confidence == "sigmoid" else F.relu(peak)
        keypoints = F.stack(x, y, conf, axis=-1)  # (N*T, K, 3)
        return F.reshape_like(keypoints, heat, lhs_begin=0, lhs_end=1, rhs_begin=0, rhs_end=2)
