"""Why is the demo's pose CNN weak? Three measurements on the synthetic benchmark.

    python -m tools.diagnose_pose [--runs runs] [--work work/synth] [--skip-oracle | --probe-only]
                                  [key=value ...]

after `make demo` (it reads the demo's trained rows):

1. the oracle: the stage-2 config's pose CNN (same code, same optimiser, schedule and seed)
   trained and tested on ground-truth keypoints instead of decoded ones. Its input is the model's
   own decoder applied to the ground-truth target maps (``gt_pose_input``), which gives the true
   keypoints normalised to the crop with confidence 1: what the branch reaches with perfect poses;
2. the pose head's keypoint error on the test view (the centre crop of the 10 clips of every
   test video, the views the pose CNN reads less the two shifted crops): mean
   pixel error in the crop and PCK at 0.05, 0.1, 0.2 of the person box's longer side, for the
   KPS rows trained with ground-truth and with pseudo-pose targets; and the decoded confidence
   (the pose CNN's third input channel, ReLU of the peak logit) beside the oracle's 1;
3. the stage-2 pose CNN (the frozen KPS model's decoded keypoints, today's stage 2): its test
   top-1 on decoded keypoints (the demo's number), on ground-truth keypoints (confidence 1, an
   input it never saw in training), and on the ground-truth x, y with the decoder's own
   confidence (``with_true_xy``): whether the test view's keypoint error is what it loses;
4. a linear probe: a multinomial logistic regression on the ground-truth x, y of every clip of
   the training views (mirrored too, as training mirrors), in the form the pose CNN reads them,
   tested on the test view's 10 clips a video (``tools/pose_probe.py``): which classes the test
   view's keypoints tell apart at all, beside the stage-2 pose CNN's top-1 per class.

Writes RUNS/diagnose_pose.md and .json; the oracle trains in RUNS/pose_oracle (resumable).
"""
import argparse
import json
import os
import sys

import mxnet as mx
import numpy as np
from mxnet.gluon.block import HybridBlock

from engine.config import load_config
from data import transforms as T
from common.files import atomic_write_text
from data.index import read_boxes, read_poses
from data.loader import Substitutes
from data.pose_targets import encode_clip
from engine.training.checkpoints import checkpoint_or_last, load_weights
from engine.demo.rows import row_config, seed_runs
from engine.systems import build_model, checked_against_checkpoint
from engine.experiment import (
    clip_dataset,
    dataset_of,
    disk_radius_of,
    heatmap_stride,
    setup_logging,
    split_samples,
)
from engine.metrics.pose_metrics import pck_curve, pckh_hits, percent
from engine.metrics.scoring import softmax, top1
from engine.training.loop import fit
from tools.pose_probe import linear_probe, test_crops
from engine.views.cam import box_in_crop
from symbols.action_machine import ActionMachineLoss
from symbols.pose_decoder import decode_pose_maps

PCK_ALPHAS = (0.05, 0.1, 0.2)  # of the person box's longer side in the crop (Penn's rule)
STAGE2 = "kps_pose_r18"
PROBE = "linear probe on ground-truth keypoints"


class PoseOnly(HybridBlock):
    """The pose CNN of a model, alone: (N, 3, T, K) -> (pose logits,), with ``output_names`` so
    ``engine.metrics.scoring.video_scores`` can score it."""
    output_names = ["pose"]

    def __init__(self, pose_cnn, **kwargs):
        super().__init__(**kwargs)
        self.pose_cnn = pose_cnn

    def hybrid_forward(self, F, x):
        return (self.pose_cnn(x),)


def gt_pose_input(decoder, heat, offsets):
    """The pose CNN's input from ground-truth target maps (heat (N, T, K, h, w) in {0, 1},
    offsets (N, T, K, 2, h, w)) through the model's decoder: (N, 3, T, K) with x, y in [0, 1]
    of the crop and confidence 1 for every joint whose disk lies in the heatmap."""
    keypoints = decoder(heat, offsets)  # (N, T, K, 3)
    return mx.nd.transpose(keypoints, axes=(0, 3, 1, 2))


def view_keypoints(cfg, sample, poses, boxes):
    """Ground-truth keypoints of a test video's views, in the order of the test loader
    (``data.loader.ClipDataset._test_item``: clips, then crops) -> (V, T, K, 3) crop pixels."""
    d = cfg["data"]
    idx = T.test_indices(sample["frames"], d["clip_len"],
                         d["stride"] or dataset_of(cfg).STRIDE,
                         cfg["eval"]["num_clips"])
    kps = poses[np.minimum(idx, len(poses) - 1)].astype(np.float32)  # (clips, T, K, 3)
    kps[..., 2] = kps[..., 2] > d["pose_min_confidence"]  # a target joint, as the loader says
    crops = test_crops(cfg, boxes[sample["id"]])
    return np.stack([T.crop_keypoints(k, box, d["size"]) for k in kps for box in crops])


def view_maps(cfg, keypoints):
    """(V, T, K, 3) crop pixels -> the target maps (V, T, K, h, w), (V, T, K, 2, h, w)."""
    h = cfg["data"]["size"] // heatmap_stride(cfg)
    maps = [encode_clip(k, (h, h), heatmap_stride(cfg), disk_radius_of(cfg))[:2]
            for k in keypoints]
    return np.stack([m[0] for m in maps]), np.stack([m[1] for m in maps])


def oracle_loss(decoder, criterion):
    def loss_fn(net, clip, label, heat, offsets, weight):
        logits = net(gt_pose_input(decoder, heat, offsets))[0]
        total, parts = criterion({"pose": logits}, label)
        metrics = {f"loss_{k}": v for k, v in parts.items()}
        metrics["train_pose_top1"] = logits.argmax(axis=1) == label.astype("float32")
        return total, metrics
    return loss_fn


def train_oracle(cfg, log):
    """The stage-2 config's pose CNN trained on ground-truth maps -> (PoseOnly, decoder)."""
    t = cfg["train"]
    mx.random.seed(t["seed"])  # as train_action.train: the same initial pose CNN
    model = build_model(cfg, [mx.cpu()])
    net = PoseOnly(model.pose_cnn)
    final = os.path.join(cfg["out"], "final.params")
    if os.path.exists(final):
        load_weights(net, final, [mx.cpu()], log)
    else:
        os.makedirs(cfg["out"], exist_ok=True)
        dataset = Substitutes(clip_dataset(cfg, split_samples(cfg, "train"), "train", True))
        fit(cfg, net, dataset, oracle_loss(model.decoder, ActionMachineLoss(("pose",))),
            [mx.cpu()], log, resume_run=True)
    return net, model.decoder


def pose_top1(cfg, pose_net, decoder, inputs_of, log):
    """Test top-1 of a pose CNN over the 30 views of every test video, its input from
    ``inputs_of(sample) -> (V, 3, T, K)``."""
    samples = split_samples(cfg, "test")
    scores = [softmax(pose_net(mx.nd.array(inputs_of(s)))[0].asnumpy()).mean(axis=0)
              for s in samples]
    return top1(np.stack(scores), [s["label"] for s in samples])


def gt_inputs(cfg, decoder, poses_dir, boxes):
    def inputs_of(sample):
        kps = view_keypoints(cfg, sample, read_poses(poses_dir, sample["id"]), boxes)
        heat, offsets = view_maps(cfg, kps)
        return gt_pose_input(decoder, mx.nd.array(heat), mx.nd.array(offsets)).asnumpy()
    return inputs_of


def with_true_xy(decoded, true):
    """The pose CNN's input (N, 3, T, K) with the x, y channels of ``true`` and the confidence
    channel of ``decoded``: the decoded keypoints moved onto the ground truth."""
    return mx.nd.concat(mx.nd.slice_axis(true, axis=1, begin=0, end=2),
                        mx.nd.slice_axis(decoded, axis=1, begin=2, end=3), dim=1)


def true_xy_top1(cfg, net, gt_poses, boxes):
    """Test top-1 of a stage-2 model's pose CNN over the 30 views of every test video, fed the
    ground-truth x, y of each view with the confidence its frozen KPS model decodes there."""
    data = clip_dataset(cfg, split_samples(cfg, "test"), "test", False)
    index = {s["id"]: i for i, s in enumerate(data.samples)}
    true_inputs = gt_inputs(cfg, net.decoder, gt_poses, boxes)

    def inputs_of(sample):
        views = mx.nd.array(data[index[sample["id"]]][0])
        _, decoded = net.before_pose_cnn(views)  # (V, 3, T, K)
        return with_true_xy(decoded, mx.nd.array(true_inputs(sample))).asnumpy()
    return pose_top1(cfg, PoseOnly(net.pose_cnn), net.decoder, inputs_of, None)


def keypoint_errors(cfg, net, gt_poses, boxes):
    """The pose head on every test view against the ground truth -> dict(mean_px, pck (alpha ->
    %), confidence: mean decoded confidence, joints scored)."""
    data = clip_dataset(cfg, split_samples(cfg, "test"), "test", False)
    errors, scaled, conf = [], [], []
    S = cfg["data"]["size"]
    for i, s in enumerate(data.samples):
        views = mx.nd.array(data[i][0][1::3])  # the centre crop of each clip: a third the cost
        out = dict(zip(net.output_names, net(views)))
        pred = decode_pose_maps(out["heatmaps"].asnumpy(), out["offsets"].asnumpy(),
                                net.stride, net.radius, confidence="relu")  # (V, T, K, 3)
        truth = view_keypoints(cfg, s, read_poses(gt_poses, s["id"]), boxes)[1::3]
        inside = (truth[..., 2] > 0) & (truth[..., :2] >= 0).all(-1) & (truth[..., :2] < S).all(-1)
        box = box_in_crop(boxes[s["id"]], test_crops(cfg, boxes[s["id"]])[1], S)
        side = float(max(box[2] - box[0], box[3] - box[1]))  # the person's size in the crop
        flat = lambda a: a.reshape(-1, *a.shape[2:])  # (V * T, K, ...)
        errors.append(np.linalg.norm(pred[..., :2] - truth[..., :2], axis=-1)[inside])
        scaled.append(pckh_hits(flat(pred[..., :2]), flat(truth[..., :2]), flat(inside),
                                np.full(len(flat(inside)), side)))
        conf.append(pred[..., 2][inside])
    errors, conf = np.concatenate(errors), np.concatenate(conf)
    correct, visible = pck_curve(np.concatenate(scaled), PCK_ALPHAS)  # pooled over joints
    return dict(mean_px=float(errors.mean()), joints=int(errors.size),
                pck={a: float(percent(c.sum(), visible.sum()))
                     for a, c in zip(PCK_ALPHAS, correct)},
                confidence=float(conf.mean()), confidence_max=float(conf.max()))


def load_row(row, overrides, log):
    config, overrides = row_config(row, overrides)
    cfg = load_config(config, overrides)
    ckpt = checkpoint_or_last(cfg["out"], None)
    cfg = checked_against_checkpoint(cfg, ckpt)
    cfg["model"]["pretrained"] = None
    net = build_model(cfg, [mx.cpu()])
    load_weights(net, ckpt, [mx.cpu()], log)
    return cfg, net


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default="work/synth", help="the demo's benchmark data")
    parser.add_argument("--runs", default="runs", help="the demo's runs folder")
    parser.add_argument("--seed", type=int, default=0, help="which seed's demo rows to read")
    parser.add_argument("--skip-oracle", action="store_true", help="no oracle training")
    parser.add_argument("--probe-only", action="store_true",
                        help="only the linear probe (4.): no trained row needed, seconds; with "
                             "data.protocol=xview1 or xview2, the other views as test view")
    parser.add_argument("overrides", nargs="*", help="config overrides for every row")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    log = setup_logging(args.runs, "diagnose_pose")
    from common.errors import exit_on_error
    with exit_on_error(log):
        run(args, log)


def run(args, log):
    prepared = os.path.join(args.work, "prepared")
    boxes_path, gt_poses = os.path.join(args.work, "boxes.json"), os.path.join(args.work, "poses")
    boxes = read_boxes(boxes_path)[0]
    common = [f"data.prepared={prepared}", f"data.boxes={boxes_path}",
              f"train.seed={args.seed}"] + args.overrides
    runs = {name: seed_runs(args.runs, args.seed, name) for name in ("demo", "demo_pseudo")}
    if args.probe_only:
        cfg = load_config(*row_config(STAGE2, common + [f"data.poses={gt_poses}",
                                                         f"runs={runs['demo']}"]))
        return write_report(args.runs, {PROBE: linear_probe(cfg, gt_poses, boxes)})
    report = {}
    # 2. keypoint error of the KPS rows (their pose heads are the stage-2 models' inputs)
    for targets, poses in (("ground truth", gt_poses),
                           ("pseudo-poses", os.path.join(args.work, "pseudo_poses"))):
        folder = runs["demo" if targets == "ground truth" else "demo_pseudo"]
        cfg, net = load_row("kps", common + [f"data.poses={poses}", f"runs={folder}"], log)
        report[f"keypoints, {targets} targets"] = keypoint_errors(cfg, net, gt_poses, boxes)
        log.info("keypoints, %s targets: %s", targets, report[f"keypoints, {targets} targets"])
    # 3. today's stage 2: decoded keypoints (the demo's eval) and ground-truth ones
    cfg, net = load_row(STAGE2, common + [f"data.poses={gt_poses}", f"runs={runs['demo']}"], log)
    with open(os.path.join(cfg["out"], "results.json")) as f:
        report["stage 2 on decoded keypoints"] = json.load(f)["top1"]["pose"]
    report["stage 2 on ground-truth keypoints"] = pose_top1(
        cfg, PoseOnly(net.pose_cnn), net.decoder,
        gt_inputs(cfg, net.decoder, gt_poses, boxes), log)
    report["stage 2 on ground-truth x, y, decoded confidence"] = true_xy_top1(
        cfg, net, gt_poses, boxes)
    # 4. the linear probe, beside stage 2's classes
    with open(os.path.join(cfg["out"], "results.json")) as f:
        report["stage 2 per class, decoded keypoints"] = json.load(f)["per_class"]["pose"]
    report[PROBE] = linear_probe(cfg, gt_poses, boxes)
    log.info("linear probe: %s", report[PROBE])
    # 1. the oracle
    if not args.skip_oracle:
        ocfg = load_config(*row_config(STAGE2, common + [
            f"data.poses={gt_poses}", f"runs={runs['demo']}", "model.global_stats=backbone"]))
        # One folder per input form and seed: a run of another form must not be reloaded.
        form = ocfg["model"]["options"].get("pose_input", "absolute")
        ocfg["out"] = os.path.join(args.runs, f"pose_oracle_{form}" + (
            f"_seed{args.seed}" if args.seed else ""))
        oracle, decoder = train_oracle(ocfg, log)
        report["oracle on ground-truth keypoints"] = pose_top1(
            ocfg, oracle, decoder, gt_inputs(ocfg, decoder, gt_poses, boxes), log)
    return write_report(args.runs, report)


def write_report(runs, report):
    """RUNS/diagnose_pose.md (printed too) and .json -> ``report``."""
    text = "\n".join(["| pose branch diagnosis (synthetic benchmark, test view) | value |",
                      "| --- | --- |"] + [f"| {k} | {fmt(v)} |" for k, v in report.items()])
    atomic_write_text(os.path.join(runs, "diagnose_pose.md"), text + "\n")
    atomic_write_text(os.path.join(runs, "diagnose_pose.json"),
                      json.dumps(report, indent=1, default=str))
    print(text)
    return report


def fmt(v):
    if isinstance(v, dict) and "per_class" in v:
        return (f"top-1 {100 * v['top1']:.1f} % (training clips {100 * v['train_top1']:.1f} %); "
                + fmt(v["per_class"]))
    if isinstance(v, dict) and "pck" not in v:
        return "; ".join(f"{k} {'-' if a is None else f'{100 * a:.0f}'}" for k, a in v.items())
    if isinstance(v, dict):
        pck = ", ".join(f"PCK@{a} {p:.1f} %" for a, p in v["pck"].items())
        return (f"mean error {v['mean_px']:.2f} px; {pck}; decoded confidence mean "
                f"{v['confidence']:.2f} (max {v['confidence_max']:.2f}); {v['joints']} joints")
    return f"top-1 {100 * v:.1f} %"


if __name__ == "__main__":
    sys.exit(main())
