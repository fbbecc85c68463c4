"""Running a soft-argmax pose model (Luvizon et al. 2018) over test items: its checkpoint, the
last block's pose in the annotation's units (frame pixels, camera-frame mm), and the validation
scores of a model (its predictions scored by engine/metrics/pose.py).

``eval_pose.py --config`` writes and scores these predictions (its docstring gives the units and
the metrics); ``train_pose.py`` validates with ``frames_mpjpe`` / ``images_error``;
``demo_softargmax.py`` scores a multitask checkpoint's pose part with ``predict_frames`` and
engine/metrics/pose.py's ``score_frames``.
"""
import mxnet as mx
import numpy as np
from tqdm import tqdm

from data.loader import make_loader
from data.multitask import pose_frames as PF
from engine.training.checkpoints import checkpoint_or_last, load_weights
from engine.systems import build_pose_model
from engine.pose_experiment import check_pose_checkpoint
from engine.metrics.pose import frames_mpjpe_of, images_error_of


def load_model(cfg, ctx, log, untrained=False):
    """(net, checkpoint name): the config's checkpoint (strict, checked against the config) or,
    ``untrained``, the seeded fresh model."""
    mx.random.seed(cfg["train"]["seed"])
    net = build_pose_model(cfg, [ctx])
    if untrained:
        ckpt = "untrained"
    else:
        ckpt = checkpoint_or_last(cfg["out"], cfg["eval"]["checkpoint"])
        check_pose_checkpoint(cfg, ckpt)
        load_weights(net, ckpt, [ctx], log)
    net.hybridize(static_alloc=True)
    return net, ckpt


def predict_frames(net, dataset, ctx, batch_size=32, flip=True, model="the model"):
    """The last block's pose for every item of a test-mode ``PoseFrames`` -> frame pixels
    (N, J, 2) and camera-frame mm (N, J, 3). ``model`` names the weights in the
    FloatingPointError raised when they output NaN or inf."""
    loader = make_loader(dataset, batch_size)
    last = f"pose{net.pose_blocks}"
    uv_rows, xyz_rows = [], []
    for image, matrix, root, camera, index in tqdm(loader, desc="predict", disable=None):
        image = image.as_in_context(ctx)
        pose = dict(zip(net.output_names, net(image)))[last].asnumpy()  # (n, J, 3) in [0, 1]
        if flip:
            mirrored = dict(zip(net.output_names, net(mx.nd.flip(image, axis=3))))[last]
            pose = (pose + PF.flip_pose(mirrored.asnumpy(),
                                        getattr(dataset, "flip_permutation", None))) / 2
        finite = np.isfinite(pose).all(axis=(1, 2))
        if not finite.all():
            bad = dataset.name_of(int(index.asnumpy()[np.argmin(finite)]))
            raise FloatingPointError(f"{model} outputs non-finite poses (NaN or inf) for {bad}: "
                                     f"no predictions written")
        uv_crop, depth = PF.decode(pose, root.asnumpy(), dataset.size,
                                   depth_range=dataset.depth_range)
        uv = np.stack([PF.to_frame(p, m) for p, m in zip(uv_crop, matrix.asnumpy())])
        uv_rows.append(uv)
        xyz_rows.append(PF.back_project(uv, depth, camera.asnumpy()))
    return np.concatenate(uv_rows), np.concatenate(xyz_rows)


def predict_crops(net, dataset, ctx, batch_size=32, flip=True, model="the model", crops=1,
                  shift=0.05):
    """``predict_frames`` averaged over the test crops: the centred one (crops 1), and with
    crops 5 four more whose window moves by (+-shift, +-shift) x its side (the paper's
    multi-crop: "five cropped regions and their corresponding flipped images", Sec. 5.3); the
    average is taken in the annotation's units (frame pixels, camera mm)."""
    shifts = [(0.0, 0.0)] + ([(sx * shift, sy * shift) for sx in (-1, 1) for sy in (-1, 1)]
                             if crops == 5 else [])
    results = []
    try:
        for s in shifts:
            dataset.shift = s
            results.append(predict_frames(net, dataset, ctx, batch_size, flip, model))
    finally:
        dataset.shift = (0.0, 0.0)
    return tuple(np.mean([r[k] for r in results], axis=0) for k in (0, 1))


def images_error(net, dataset, ctx, batch_size=32, flip=True, model="the model"):
    """The validation score of ``net`` on a real dataset's items (``PoseImages``): the
    root-aligned MPJPE (mm) where every joint has depth, else the mean 2D error in % of the
    box's longer side (``images_error_of``)."""
    uv, xyz = predict_frames(net, dataset, ctx, batch_size, flip, model)
    return images_error_of(uv, xyz, dataset.records, dataset.has_3d())


def frames_mpjpe(net, dataset, ctx, batch_size=32, flip=True, model="the model"):
    """The mean root-aligned MPJPE (mm) of ``net`` on ``dataset``: the validation score."""
    _, xyz = predict_frames(net, dataset, ctx, batch_size, flip, model)
    return frames_mpjpe_of(xyz, dataset.ground_truth())
