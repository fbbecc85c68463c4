"""A linear probe of the pose branch: which classes the test view's keypoints tell apart at all.

A multinomial logistic regression on the ground-truth x, y of every clip of the training views
(mirrored too, as training mirrors), in the form the pose CNN reads them, tested on the test
view's clips: no pose CNN and no decoder. ``tools.diagnose_pose`` reports it beside the stage-2
pose CNN's top-1 per class (``--probe-only`` runs it alone).
"""
import numpy as np
from scipy.optimize import minimize

from data import transforms as T
from data.index import read_poses
from data.keypoints import flip_keypoints
from engine.experiment import dataset_of, split_samples
from engine.metrics.scoring import class_accuracy, softmax, top1


def test_crops(cfg, box):
    """The three test crops of a person box (up-left, centre, down-right) -> (3, 4)."""
    return T.test_crop_boxes(box, cfg["eval"]["test_crop_scale"], cfg["data"]["crop_aspect"])


def fit_linear(x, labels, num_classes, l2=1e-3, max_iter=500):
    """Multinomial logistic regression, an L2 penalty ``l2`` on the weights, fitted by L-BFGS on
    standardised features: x (M, D), labels (M,) -> a function (N, D) -> probabilities (N, C)."""
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-6
    z, onehot = (x - mean) / std, np.eye(num_classes)[labels]
    dims = z.shape[1] * num_classes

    def loss_and_grad(w):
        weights, bias = w[:dims].reshape(-1, num_classes), w[dims:]
        p = softmax(z @ weights + bias)
        loss = -np.mean(np.log(p[np.arange(len(z)), labels] + 1e-12)) + l2 * np.sum(weights ** 2)
        g = (p - onehot) / len(z)
        return loss, np.concatenate([(z.T @ g + 2 * l2 * weights).ravel(), g.sum(axis=0)])

    w = minimize(loss_and_grad, np.zeros(dims + num_classes), jac=True, method="L-BFGS-B",
                 options=dict(maxiter=max_iter)).x
    weights, bias = w[:dims].reshape(-1, num_classes), w[dims:]
    return lambda x: softmax(((x - mean) / std) @ weights + bias)


def clip_xy(cfg, poses, box, indices, mirror=False):
    """Ground-truth x, y of a video's clips (``indices`` (N, T)) in the centre test crop of its
    person box, as fractions of the crop, mirrored (left and right swapped) if asked and less
    each clip's mean with ``pose_input: centred``, as the pose CNN reads them -> (N, T*K*2)."""
    size = cfg["data"]["size"]
    kps = T.crop_keypoints(poses[np.minimum(indices, len(poses) - 1)].astype(np.float32),
                           test_crops(cfg, box)[1], size)
    if mirror:
        kps = flip_keypoints(kps, size)
    xy = kps[..., :2] / size  # (N, T, K, 2)
    if cfg["model"]["options"].get("pose_input", "absolute") == "centred":
        xy = xy - xy.mean(axis=(1, 2), keepdims=True)
    return xy.reshape(len(xy), -1)


def linear_probe(cfg, gt_poses, boxes, l2=1e-3):
    """``fit_linear`` on the ground-truth keypoints of every clip of the training videos (every
    start, mirrored and not), tested on the 10 clips of every test video, probabilities averaged
    -> dict(top1, per_class {class: top-1}, train_top1 over the training clips)."""
    d, dataset = cfg["data"], dataset_of(cfg)
    stride = d["stride"] or dataset.STRIDE
    x, labels = [], []
    for s in split_samples(cfg, "train"):
        poses = read_poses(gt_poses, s["id"])
        span = T.clip_span(d["clip_len"], T.fit_stride(s["frames"], d["clip_len"], stride))
        idx = np.stack([T.clip_indices(s["frames"], d["clip_len"], stride, start)
                        for start in range(max(s["frames"] - span, 0) + 1)])
        for mirror in (False, True):
            x.append(clip_xy(cfg, poses, boxes[s["id"]], idx, mirror))
            labels += [s["label"]] * len(idx)
    classes = dataset.CLASSES
    x, labels = np.concatenate(x), np.array(labels)
    predict = fit_linear(x, labels, len(classes), l2)
    test = split_samples(cfg, "test")
    scores = np.stack([predict(clip_xy(
        cfg, read_poses(gt_poses, s["id"]), boxes[s["id"]],
        T.test_indices(s["frames"], d["clip_len"], stride, cfg["eval"]["num_clips"]))).mean(axis=0)
        for s in test])
    truth = np.array([s["label"] for s in test])
    return dict(top1=top1(scores, truth),
                per_class=class_accuracy(scores.argmax(axis=1) == truth, truth, classes),
                train_top1=float(np.mean(predict(x).argmax(axis=1) == labels)))
