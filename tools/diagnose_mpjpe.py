"""Where a soft-argmax pose model's MPJPE on the synthetic benchmark comes from: the metric, the
data's depth, or the model. Scores, on the config's test frames and by eval_pose.py's metric
(mm after pelvis alignment, absolute depth from the ground truth's pelvis):

    python -m tools.diagnose_mpjpe --config configs/pose/synth_softargmax_tiny.yaml [key=value]

    truth through the metric   the ground truth written as the network's output (the crop's
                               normalised x, y, z: the training targets) and scored as a
                               prediction: ~0 when encoding, decoding, back-projection and the
                               alignment agree (a metric or units bug shows here)
    true 2D, depth flat        every joint at the pelvis depth: the score of a model that learned
                               the 2D pose perfectly and no depth
    true 2D, model depth       the model's depth on the true 2D: its depth error alone
    model 2D, true depth       the model's 2D on the true depth: its 2D error alone
    model                      eval_pose.py's number (single crop, eval.flip as the config)

and the data's depth: the person's height, the mean |Z - Z_pelvis| of the joints, the share of
them outside the depth range the targets can reach (data.depth_range_mm; a soft-argmax cannot
leave [0, 1]), and the depth maps' spacing (the range / (Nd - 1)). Writes OUT/mpjpe_diagnosis.md
and .json; a bad config or a missing checkpoint is one line ``error: ...``.
"""
import os

from engine.config import add_config_args
from common import cli


def parse_args(argv=None):
    parser = cli.parser(__doc__)
    add_config_args(parser, cpus=False)
    return parser.parse_args(argv)


if __name__ == "__main__":  # --help, a bad flag and the thread count: before MXNet loads
    cli.start(parse_args())

# Below: the imports that load MXNet, after the command line is read above.
import json
import logging

import numpy as np

from engine.config import POSE_BASE, load_config
from data import transforms as T
from common.errors import exit_on_error
from common.files import atomic_write_text
from data.multitask import pose_frames as PF
from engine.experiment import contexts
from engine.pose_eval import load_model, predict_frames
from engine.systems import check_pose_config
from engine.pose_experiment import pose_frames
from engine.metrics.pose_metrics import joint_errors
from symbols import multitask_config


def truth_as_output(dataset):
    """The ground truth of every test item as the network would output it -> (N, J, 3): the
    crop's normalised x, y and root-relative z of ``PF.targets`` (outside joints kept)."""
    rows = []
    for i in range(len(dataset)):
        ann, t = dataset.annotation(i)
        kps = ann["keypoints"][t].copy()
        m = dataset.matrix(i)
        kps[:, :2] = T.apply_affine(kps[:, :2], m)
        target, _, _ = PF.targets(kps, ann["joints_3d"][t][:, 2], dataset.root_depth(i),
                                  dataset.size, depth_range=dataset.depth_range, outside="keep")
        rows.append(target)
    return np.stack(rows)


def as_prediction(dataset, pose):
    """Normalised poses (N, J, 3) of the test items -> camera mm (N, J, 3), as eval_pose.py
    turns the network's output into a prediction (``predict_frames``)."""
    out = []
    for i, p in enumerate(pose):
        uv, depth = PF.decode(p, dataset.root_depth(i), dataset.size,
                              depth_range=dataset.depth_range)
        ann, _ = dataset.annotation(i)
        out.append(PF.back_project(PF.to_frame(uv, dataset.matrix(i)), depth, ann["camera"]))
    return np.stack(out)


def diagnose(cfg, ctx, log):
    """-> dict of the rows (MPJPE mm) and the data's depth facts (module docstring)."""
    check_pose_config(cfg)
    if cfg["data"]["source"] != "synth":
        raise ValueError("tools.diagnose_mpjpe reads the synthetic benchmark's 3D ground truth "
                         "(data.source synth)")
    dataset = pose_frames(cfg, "test")
    truth = dataset.ground_truth()
    xyz, uv_true, cam = truth["joints_3d"], truth["keypoints"][..., :2], truth["camera"]
    z_true, root = xyz[..., 2], PF.root_of(xyz)  # (N, J), (N, 3)
    net, ckpt = load_model(cfg, ctx, log)
    uv_model, xyz_model = predict_frames(net, dataset, ctx, cfg["eval"]["batch_size"],
                                         cfg["eval"]["flip"], ckpt)
    flat = np.repeat(root[:, None, 2], xyz.shape[1], axis=1)
    rows = {
        "truth through the metric": as_prediction(dataset, truth_as_output(dataset)),
        "true 2D, depth flat (pelvis)": PF.back_project(uv_true, flat, cam),
        "true 2D, model depth": PF.back_project(uv_true, xyz_model[..., 2], cam),
        "model 2D, true depth": PF.back_project(uv_model, z_true, cam),
        "model": xyz_model,
    }
    mpjpe = {k: float(joint_errors(v, xyz, PF.HIPS).mean()) for k, v in rows.items()}
    relative = z_true - root[:, None, 2]  # (N, J) mm from the pelvis
    half = dataset.depth_range / 2
    model = multitask_config(cfg["model"]["name"], **cfg["model"]["options"])
    heights = [dataset.annotation(i)[0].get("person_height_mm") for i in range(len(dataset))]
    return dict(
        config=cfg["experiment"], checkpoint=ckpt, frames=len(dataset), mpjpe=mpjpe,
        depth_error_mm=float(np.abs(xyz_model[..., 2] - root[:, None, 2] - relative).mean()),
        person_height_mm=float(np.mean([h for h in heights if h is not None])),
        mean_abs_relative_depth_mm=float(np.abs(relative).mean()),
        p95_abs_relative_depth_mm=float(np.percentile(np.abs(relative), 95)),
        outside_depth_range=float((np.abs(relative) > half).mean()),
        depth_range_mm=float(dataset.depth_range), depth_bins=model.depth_bins,
        depth_bin_spacing_mm=float(dataset.depth_range / max(model.depth_bins - 1, 1)))


def markdown(result):
    lines = [f"| {result['config']} ({result['frames']} test frames) | MPJPE (mm) |",
             "| --- | ---: |"]
    lines += [f"| {name} | {v:.1f} |" for name, v in result["mpjpe"].items()]
    lines += ["", f"model's mean |depth error| about the pelvis: {result['depth_error_mm']:.1f} mm; "
              f"the data: a {result['person_height_mm']:.0f} mm person, joints "
              f"{result['mean_abs_relative_depth_mm']:.1f} mm from the pelvis depth on average "
              f"(95th percentile {result['p95_abs_relative_depth_mm']:.1f}), "
              f"{100 * result['outside_depth_range']:.2f} % outside the targets' +-"
              f"{result['depth_range_mm'] / 2:.0f} mm; {result['depth_bins']} depth maps, "
              f"{result['depth_bin_spacing_mm']:.0f} mm apart"]
    return "\n".join(lines)


def main(argv=None):
    args = cli.start(parse_args(argv))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    log = logging.getLogger("diagnose_mpjpe")
    with exit_on_error(log):
        cfg = load_config(args.config, args.overrides, base=POSE_BASE)
        result = diagnose(cfg, contexts(args.gpus)[0], log)
        text = markdown(result)
        atomic_write_text(os.path.join(cfg["out"], "mpjpe_diagnosis.json"),
                          json.dumps(result, indent=1))
        atomic_write_text(os.path.join(cfg["out"], "mpjpe_diagnosis.md"), text + "\n")
    print(text)
    return result


if __name__ == "__main__":
    main()
