"""COCO keypoint AP of the 2D pose model, or of any results file (paper Sec. 4.2, Table 3).

    python eval_coco.py --ann person_keypoints_val2017.json --results results.json
    python eval_coco.py --config configs/pose/coco_r50_384x288.yaml [key=value ...]

The first form scores an existing COCO results file with pycocotools' COCOeval and nothing else,
so any model's output can be checked. The second runs the model on the val boxes (ground truth,
or data.detections: a COCO results file of person detections), averages the heatmaps and offsets
of each crop and of its mirror, decodes the keypoints (argmax + offset), maps them back to the
image, writes OUT/keypoints_val.json (COCO results format) and scores it. Scores: AP (mean over
10 OKS thresholds), AP50, AP75, APm, APl, AR, written to OUT/coco_eval.json.
"""
import argparse
import contextlib
import io
import json
import os
import sys

import mxnet as mx
import numpy as np
from tqdm import tqdm

from configs import POSE_BASE, add_config_args, load_config_or_exit
from data.index import atomic_write_text
from data.keypoints import flip_pose_maps
from data.loader import make_loader
from data.transforms import apply_affine, invert_affine
from experiment import contexts, load_weights, setup_logging
from symbols.pose_decoder import KeypointDecoder
from training import checkpoint_or_last

STAT_NAMES = ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")


def score(ann_file, results):
    """COCOeval keypoints stats of ``results`` (a path or a list) against ``ann_file``."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints as it goes
        gt = COCO(ann_file)
        if isinstance(results, str):
            with open(results) as f:
                results = json.load(f)
        if not results:
            raise ValueError("the results file holds no detection")
        dt = gt.loadRes(results)
        ev = COCOeval(gt, dt, "keypoints")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return dict(zip(STAT_NAMES, (float(v) for v in ev.stats)))


def decode_maps(heat, offsets, stride, radius):
    """heat (N, K, H, W), offsets (N, K, 2, H, W) numpy -> keypoints (N, K, 3) in crop pixels,
    the third column the heatmap probability at the argmax."""
    dec = KeypointDecoder(stride, radius)
    kps = dec(mx.nd.array(heat[:, None]), mx.nd.array(offsets[:, None])).asnumpy()[:, 0]
    kps[..., 2] = 1 / (1 + np.exp(-heat.reshape(*heat.shape[:2], -1).max(axis=-1)))
    return kps


def predict(net, dataset, ctx, batch_size=32, flip=True, workers=0):
    """COCO results (list of dicts) for every box of a test-mode ``CocoPose``."""
    loader = make_loader(dataset, batch_size, workers=workers)
    stride = net.stride
    results = []
    for image, mirrored, index in tqdm(loader, desc="predict", disable=None):
        heat, offsets = (x.asnumpy() for x in net(image.as_in_context(ctx)))
        if flip:
            fh, fo = (x.asnumpy() for x in net(mirrored.as_in_context(ctx)))
            fh, fo = flip_pose_maps(fh, fo)
            heat, offsets = (heat + fh) / 2, (offsets + fo) / 2
        results += maps_to_results(dataset, index.asnumpy().astype(int), heat, offsets, stride)
    return results


def maps_to_results(dataset, indices, heat, offsets, stride):
    """Pose maps of crops ``indices`` of ``dataset`` -> COCO results in image pixels; a result's
    score is its box's score times the mean keypoint probability."""
    results = []
    for k, i in zip(decode_maps(heat, offsets, stride, dataset.radius), indices):
        rec = dataset.records[i]
        in_image = apply_affine(k, invert_affine(dataset.matrix(i)))
        results.append(dict(image_id=int(rec["image_id"]), category_id=1,
                            keypoints=[round(float(v), 3) for v in in_image.reshape(-1)],
                            score=float(rec["score"] * k[:, 2].mean())))
    return results


def table(stats):
    head = "| " + " | ".join(STAT_NAMES[:6]) + " |"
    return "\n".join([head, "|" + " ---: |" * 6,
                      "| " + " | ".join(f"{100 * stats[k]:.1f}" for k in STAT_NAMES[:6]) + " |"])


def evaluate(cfg, ctx, log, untrained=False):
    """Run the model on the val boxes and score it; ``untrained``: the freshly initialised model
    (seeded), the baseline a trained model's AP is compared with."""
    from train_pose import build_pose_model, coco_dataset
    mx.random.seed(cfg["train"]["seed"])
    net = build_pose_model(cfg, [ctx])
    if untrained:
        ckpt = "untrained"
    else:
        ckpt = checkpoint_or_last(cfg["out"], cfg["eval"]["checkpoint"])
        load_weights(net, ckpt, [ctx], log)
    net.hybridize(static_alloc=True)
    detections = None
    if cfg["data"]["detections"]:
        with open(cfg["data"]["detections"]) as f:
            detections = [d for d in json.load(f) if d.get("category_id", 1) == 1]
    dataset = coco_dataset(cfg, "val", detections)
    results = predict(net, dataset, ctx, cfg["eval"]["batch_size"], cfg["eval"]["flip"],
                      cfg["data"]["workers"])
    tag = "_untrained" if untrained else ""
    path = os.path.join(cfg["out"], f"keypoints_val{tag}.json")
    atomic_write_text(path, json.dumps(results))
    stats = score(cfg["data"]["val_ann"], path)
    stats.update(checkpoint=ckpt, boxes=cfg["data"]["detections"] or "ground truth")
    atomic_write_text(os.path.join(cfg["out"], f"coco_eval{tag}.json"),
                      json.dumps(stats, indent=1))
    log.info("COCO keypoints on %d boxes:\n%s", len(results), table(stats))
    return stats


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_config_args(parser, required=False, cpus=False)  # --config: run a pose model
    parser.add_argument("--ann", help="with --results: the ground-truth keypoints file")
    parser.add_argument("--results", help="score this COCO results file, no model")
    parser.add_argument("--untrained", action="store_true",
                        help="score the freshly initialised model (the baseline)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.results:
        if not args.ann:
            sys.exit("error: --results needs --ann (the ground-truth keypoints file)")
        try:
            stats = score(args.ann, args.results)
        except (OSError, ValueError) as err:
            sys.exit(f"error: {err}")
        print(table(stats))
        return stats
    if not args.config:
        sys.exit("error: give --config (run a model) or --ann and --results (score a file)")
    cfg = load_config_or_exit(args.config, args.overrides, base=POSE_BASE)
    log = setup_logging(cfg["out"], "eval_coco")
    try:
        return evaluate(cfg, contexts(args.gpus)[0], log, args.untrained)
    except (FileNotFoundError, ValueError) as err:
        log.error("%s", err)
        sys.exit(f"error: {err}")


if __name__ == "__main__":
    main()
