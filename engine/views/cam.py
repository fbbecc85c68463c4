"""What a trained model sees of a video: the test protocol's centre view, boxes and keypoints
mapped between the frame and the model's crop, and the share of the RGB head's class activation
map inside the person box and the scene object's box (paper Fig. 1)."""
import os

import mxnet as mx
import numpy as np

from data.index import read_annotation_3d
from data.transforms import (
    apply_affine,
    crop_frames,
    crop_matrix,
    frame_test_boxes,
    invert_affine,
    test_crop_boxes,
    test_indices,
    to_network,
)
from data.video import read_frames
from engine.experiment import dataset_of
from symbols.cam import cam_mass, class_activation_maps, features_and_weights, upsample


def box_in_crop(box, crop_box, size):
    """A frame box (4,) or boxes (..., 4) in the pixels of the ``size`` x ``size`` crop of
    ``crop_box`` (the crop's own affine map), e.g. to give ``symbols.cam.cam_mass`` the person
    and object boxes of a synthetic video on a CAM of its crop."""
    box = np.asarray(box, np.float32)
    corners = apply_affine(box.reshape(*box.shape[:-1], 2, 2), crop_matrix(crop_box, size))
    return corners.reshape(box.shape)


def centre_view(cfg, sample, boxes=None):
    """The test protocol's centre view of a video: the middle of three clips evenly spaced, the
    centre of the three crops. -> dict(indices (T,), frames (T, H, W, 3) whole, crop_box (4,),
    crop (T, S, S, 3) uint8, clip (3, T, S, S) float32)."""
    d = cfg["data"]
    stride = d["stride"] or dataset_of(cfg).STRIDE
    indices = test_indices(sample["frames"], d["clip_len"], stride, 3)[1]
    frames = read_frames(os.path.join(d["prepared"], sample["path"]), indices, d["backend"])
    if d["crop"] == "person":
        crop_box = test_crop_boxes(boxes[sample["id"]], cfg["eval"]["test_crop_scale"],
                                   d["crop_aspect"])[1]
    else:
        crop_box = frame_test_boxes(frames.shape[2], frames.shape[1])[1]
    crop = crop_frames(frames, crop_box, d["size"])
    return dict(indices=indices, frames=frames, crop_box=crop_box, crop=crop,
                clip=to_network(crop))


def crop_keypoints_to_frame(keypoints, crop_box, size):
    """Keypoints (..., K, 3) in crop pixels -> frame pixels (the inverse of the crop's map)."""
    return apply_affine(keypoints, invert_affine(crop_matrix(crop_box, size)))


def video_cam_mass(cfg, net, sample, boxes=None, cls=None):
    """The share of the positive CAM mass of class ``cls`` (default: the video's label) inside
    the person box and inside the scene object's box, over the centre view's frames: the
    synthetic benchmark's question, does the model look at the person or at the object
    (paper Fig. 1). Boxes come from the annotation (``data.index.read_annotation_3d``: the
    per-frame person boxes and ``object_box``), mapped onto the model's crop. -> (person,
    object), see ``symbols.cam.cam_mass``."""
    label = sample["label"] if cls is None else cls
    return video_cam_masses(cfg, net, sample, boxes, [label])[0]


def video_cam_masses(cfg, net, sample, boxes=None, classes=None, uniform=False):
    """``video_cam_mass`` for several classes from one forward pass: ``classes`` a list of
    class indices, or of "gt" / "pred" (the label, the RGB head's arg-max on the centre view).
    ``uniform=True`` appends the shares of a uniform map: the boxes' areas as shares of the
    crop, what a model looking everywhere alike would score. -> [(person, object)] in order."""
    view = centre_view(cfg, sample, boxes)
    size = cfg["data"]["size"]
    features, weight, bias = features_and_weights(net, mx.nd.array(view["clip"][None]))
    # The RGB head's logits are the CAMs' means plus the bias (Eq. 1, no dropout at test).
    logits = np.einsum("nk,ck->nc", features.mean(axis=(2, 3, 4)), weight) + bias
    named = {"gt": sample["label"], "pred": int(logits[0].argmax())}
    wanted = [named.get(c, c) for c in (classes or ["gt"])]
    cams = upsample(class_activation_maps(features, weight, [wanted])[0], size)  # (m, T, S, S)
    ann = read_annotation_3d(os.path.join(cfg["data"]["prepared"], "annotations",
                                          sample["id"] + ".npz"))
    person = box_in_crop(ann["boxes"][view["indices"]], view["crop_box"], size)  # (T, 4)
    obj = box_in_crop(ann["object_box"], view["crop_box"], size)
    shares = [cam_mass(cam, person, obj) for cam in cams]
    if uniform:
        shares.append(cam_mass(np.ones_like(cams[0]), person, obj))
    return shares


def mean_shares(shares):
    """Per-video (person, object) shares (n, 2), NaN where a map had no positive mass ->
    dict(person, object: the means over the videos with mass; scored, total: their counts).
    A mean over no video is NaN."""
    shares = np.asarray(shares, np.float64).reshape(-1, 2)
    ok = np.isfinite(shares).all(axis=1)
    mean = shares[ok].mean(axis=0) if ok.any() else np.full(2, np.nan)
    return dict(person=float(mean[0]), object=float(mean[1]), scored=int(ok.sum()),
                total=len(shares))


def cam_mass_of_videos(cfg, net, samples, boxes=None):
    """``video_cam_masses`` over ``samples`` for the ground-truth class, the predicted class and
    a uniform map -> dict gt / pred / uniform of ``mean_shares``."""
    per_video = [video_cam_masses(cfg, net, s, boxes, ["gt", "pred"], uniform=True)
                 for s in samples]  # (n, 3, 2)
    per_video = np.asarray(per_video, np.float64).reshape(len(samples), 3, 2)
    return {k: mean_shares(per_video[:, i]) for i, k in enumerate(("gt", "pred", "uniform"))}
