"""Test-time use of the detector: the release's resize rule and pixel means, box decoding,
class-agnostic boxes, greedy NMS, and mapping back to frame pixels. NumPy on the network's raw
outputs; ``cfg`` is a ``symbols.rfcn.RFCNConfig``.
"""
import cv2
import mxnet as mx
import numpy as np


def image_scale(height, width, cfg):
    """The release's resize rule: shorter side to ``scale`` unless the longer exceeds
    ``max_size``."""
    scale = cfg.scale / min(height, width)
    if round(scale * max(height, width)) > cfg.max_size:
        scale = cfg.max_size / max(height, width)
    return scale


def preprocess(frames, cfg):
    """RGB uint8 frames (B, H, W, 3) of one size -> network input (B, 3, h, w), im_info (B, 3)."""
    frames = np.asarray(frames)
    b, h, w = frames.shape[:3]
    scale = image_scale(h, w, cfg)
    resized = [cv2.resize(f, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
               for f in frames]
    x = np.stack(resized).astype(np.float32) - np.asarray(cfg.pixel_means, np.float32)
    sh, sw = resized[0].shape[:2]
    im_info = np.tile(np.array([[sh, sw, scale]], np.float32), (b, 1))
    return x.transpose(0, 3, 1, 2), im_info


def decode_boxes(rois, deltas):
    """Apply (dx, dy, dw, dh) deltas to boxes (x1, y1, x2, y2), R-CNN convention (inclusive
    pixel extents: width = x2 - x1 + 1)."""
    w = rois[:, 2] - rois[:, 0] + 1.0
    h = rois[:, 3] - rois[:, 1] + 1.0
    cx, cy = rois[:, 0] + 0.5 * (w - 1.0), rois[:, 1] + 0.5 * (h - 1.0)
    pcx, pcy = deltas[:, 0] * w + cx, deltas[:, 1] * h + cy
    pw, ph = np.exp(deltas[:, 2]) * w, np.exp(deltas[:, 3]) * h
    return np.stack([pcx - 0.5 * (pw - 1.0), pcy - 0.5 * (ph - 1.0),
                     pcx + 0.5 * (pw - 1.0), pcy + 0.5 * (ph - 1.0)], axis=1)


def nms(dets, threshold):
    """Greedy non-maximum suppression of (n, 5) [x1, y1, x2, y2, score] -> kept indices,
    best first; a box is dropped when its IoU (inclusive extents) with a kept one > threshold."""
    order = np.argsort(-dets[:, 4], kind="stable")
    x1, y1, x2, y2 = dets[:, 0], dets[:, 1], dets[:, 2], dets[:, 3]
    area = (x2 - x1 + 1) * (y2 - y1 + 1)
    keep = []
    while order.size:
        i, rest = order[0], order[1:]
        keep.append(i)
        iw = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + 1)
        ih = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]) + 1)
        inter = iw * ih
        order = rest[inter / (area[i] + area[rest] - inter) <= threshold]
    return np.array(keep, dtype=np.int64)


def postprocess(rois, probs, deltas, im_info, cfg, class_id=None):
    """Network outputs for B images -> per image an (n, 5) array [x1, y1, x2, y2, score] of
    class ``class_id`` (default: person) in input-frame pixels, after NMS, best first."""
    class_id = cfg.person_class if class_id is None else class_id
    rois, probs, deltas = (np.asarray(v, np.float64) for v in (rois, probs, deltas))
    reg = 1 if cfg.class_agnostic else class_id  # class-agnostic: column 1 is 'object'
    out = []
    for b, (h, w, scale) in enumerate(np.asarray(im_info, np.float64)):
        mine = rois[:, 0] == b
        boxes = decode_boxes(rois[mine, 1:], deltas[mine, 4 * reg:4 * reg + 4])
        boxes[:, 0::2] = np.clip(boxes[:, 0::2], 0, w - 1)
        boxes[:, 1::2] = np.clip(boxes[:, 1::2], 0, h - 1)
        dets = np.hstack([boxes / scale, probs[mine, class_id:class_id + 1]])
        dets = dets[dets[:, 4] >= cfg.score_floor]
        dets = dets[nms(dets, cfg.nms)][:cfg.max_per_image]
        out.append(dets.astype(np.float32))
    return out


def detect(net, frames, ctx=mx.cpu(), class_id=None):
    """RGB uint8 frames (B, H, W, 3) of one size -> per frame (n, 5) detections (see
    ``postprocess``)."""
    x, im_info = preprocess(frames, net.cfg)
    rois, probs, deltas = net(mx.nd.array(x, ctx), mx.nd.array(im_info, ctx))
    return postprocess(rois.asnumpy(), probs.asnumpy(), deltas.asnumpy(), im_info, net.cfg,
                       class_id)
