"""Luvizon et al.'s Figure 7: predicted 3D poses beside their images, for a soft-argmax pose model
and a few of its test frames.

    python -m tools.figure7 --config configs/pose/mpii_h36m_softargmax.yaml --out figure7.png \
        [--frames 4 | --items 0,64,128] [key=value ...]

The model: the config's checkpoint (eval.checkpoint, or its run's newest whole one), checked
against the config as eval_pose.py checks it. The frames: --frames N spread evenly over the
config's test set (data.test_source's test split; the synthetic benchmark's protocol test
frames), or --items by their index there. Each goes through the network as eval_pose.py's
single-crop test (the centred crop, no flip), and the last prediction block's pose is drawn on
the crop the network saw and, beside it, in 3D:
- where the item has a camera and a pelvis depth (Human3.6M, NTU, the synthetic benchmark):
  back-projected to camera millimetres with the ground truth's pelvis depth (as eval_pose.py
  scores it), pelvis at the origin, the ground truth dashed;
- where it has neither (MPII, Penn Action: 2D annotations, the case of the paper's bottom row):
  the network's own volume, x and y across the crop and z across data.depth_range_mm, the
  crop's side drawn as data.depth_range_mm long (a display scale, "mm, volume" on the axes:
  there is no 3D truth).
The 2D model of ref. [28] (model.options.context_maps) predicts no depth: refused.
A bad config, a missing checkpoint or an index outside the test set is one line ``error: ...``,
exit status 1.
"""
import os

from engine.config import add_config_args
from common import cli


def parse_args(argv=None):
    parser = cli.parser(__doc__)
    add_config_args(parser, cpus=False)
    parser.add_argument("--out", required=True, help="the PNG to write")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--frames", type=int, default=4, help="this many test items, evenly "
                       "spread (default 4)")
    which.add_argument("--items", help="comma-separated indices into the test set")
    args = parser.parse_args(argv)
    if args.items is not None:
        try:
            args.items = [int(i) for i in args.items.split(",") if i]
        except ValueError:
            parser.error(f"--items takes comma-separated integers, got {args.items!r}")
    elif args.frames < 1:
        parser.error("--frames takes a number >= 1")
    return args


if __name__ == "__main__":  # --help, a bad flag and the thread count: before MXNet loads
    cli.start(parse_args())

# Below: the imports that load MXNet, after the command line is read above.
import logging

import mxnet as mx
import numpy as np

from engine.config import POSE_BASE, load_config
from data import transforms as T
from common.errors import exit_on_error
from data.joints import LAYOUTS
from data.keypoints import COCO_KEYPOINTS
from data.multitask import pose_frames as PF
from data.multitask.pose_images import check_roots, layout_of, pose_images
from engine.experiment import contexts
from engine.views.figures import poses_3d_figure
from engine.pose_eval import load_model
from engine.systems import check_pose_config
from engine.pose_experiment import pose_frames


def chosen(count, frames=4, items=None):
    """Indices into a test set of ``count`` items: ``items`` as given (checked), or ``frames``
    spread evenly (the first and the last included)."""
    if items is not None:
        bad = [i for i in items if not 0 <= i < count]
        if bad or not items:
            raise ValueError(f"--items: {bad[0] if bad else 'none given'} is not an index of "
                             f"the {count} test items")
        return list(items)
    frames = min(frames, count)
    return sorted({round(k * (count - 1) / max(frames - 1, 1)) for k in range(frames)})


def truth_of(dataset, index):
    """The item's camera-frame 3D ground truth (J, 3) mm, or None where the dataset has none
    (NaN joints stay NaN)."""
    if hasattr(dataset, "ground_truth"):  # the synthetic benchmark's frames
        ann, t = dataset.annotation(index)
        return ann["joints_3d"][t].astype(np.float64)
    r = dataset.records
    if np.isfinite(r["xyz"][index]).any():
        return r["xyz"][index]
    if np.isfinite(r["depth"][index]).any() and np.isfinite(r["camera"][index]).all():
        return PF.back_project(r["joints"][index], r["depth"][index], r["camera"][index])
    return None


def poses_of(net, dataset, index, ctx, names):
    """One test item -> (its crop as RGB uint8, the 2D pose in crop pixels (J, 2), the 3D pose
    (J, 3) root-relative, the truth (J, 3) root-relative or None, the 3D axes' units)."""
    image, matrix, root_depth, camera, _ = dataset[index]
    pose = dict(zip(net.output_names, net(mx.nd.array(image[None], ctx))))[
        f"pose{net.pose_blocks}"].asnumpy()[0]  # (J, 3) in [0, 1]
    if not np.isfinite(pose).all():
        raise FloatingPointError(f"the model outputs non-finite poses for "
                                 f"{dataset.name_of(index)}")
    crop = (image.transpose(1, 2, 0) * T.IMAGENET_STD + T.IMAGENET_MEAN) * 255
    crop = np.clip(np.rint(crop), 0, 255).astype(np.uint8)
    uv, depth = PF.decode(pose, root_depth, dataset.size, depth_range=dataset.depth_range)
    root = PF.HIPS if tuple(names) == tuple(COCO_KEYPOINTS) else 0  # pa layouts: the pelvis
    if np.isfinite(camera).all() and np.isfinite(root_depth):
        xyz = PF.back_project(PF.to_frame(uv, matrix), depth, camera)
        truth = truth_of(dataset, index)
        return (crop, uv, xyz - PF.root_of(xyz, root),
                None if truth is None else truth - PF.root_of(truth, root), "mm")
    volume = np.concatenate([pose[:, :2], pose[:, 2:] - 0.5], axis=1) * dataset.depth_range
    return crop, uv, volume - PF.root_of(volume, root), None, "mm, volume"


def figure(cfg, ctx, log, out, frames=4, items=None):
    """Figure 7 of the config's model on its test items -> (the PNG's path, the drawn rows)."""
    check_pose_config(cfg)
    if cfg["data"]["source"] == "coco":
        raise ValueError("tools.figure7 draws the soft-argmax models' 3D poses (data.source "
                         "synth, mpii, h36m, penn_action, ntu or mix), not a COCO pose model's")
    if cfg["model"]["options"].get("context_maps"):
        raise ValueError("model.options.context_maps: the 2D model of ref. [28] predicts no "
                         "depth; Figure 7 draws a 3D model's poses")
    if cfg["data"]["source"] == "synth":
        dataset, names = pose_frames(cfg, "test"), COCO_KEYPOINTS
    else:
        check_roots(cfg)
        dataset, names = pose_images(cfg, "test"), LAYOUTS[layout_of(cfg)]
    indices = chosen(len(dataset), frames, items)
    net, ckpt = load_model(cfg, ctx, log)
    rows, units = [], "mm"
    for i in indices:
        crop, uv, pose, truth, units = poses_of(net, dataset, i, ctx, names)
        rows.append((dataset.name_of(i), crop, uv, pose, truth))
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    poses_3d_figure(rows, names, out, title=f"{cfg['experiment']}: predicted 3D poses "
                                            f"({os.path.basename(ckpt)})", units=units)
    log.info("Figure 7 of %s on %d test items (%s): %s", ckpt, len(rows),
             ", ".join(map(str, indices)), out)
    return out, rows


def main(argv=None):
    args = cli.start(parse_args(argv))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    log = logging.getLogger("figure7")
    with exit_on_error(log):
        cfg = load_config(args.config, args.overrides, base=POSE_BASE)
        figure(cfg, contexts(args.gpus)[0], log, args.out, args.frames, args.items)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
