"""COCO keypoint AP of the 2D pose model, or of any results file (paper Sec. 4.2, Table 3).

    python eval_coco.py --ann person_keypoints_val2017.json --results results.json
    python eval_coco.py --config configs/pose/coco_r50_384x288.yaml [key=value ...]

The first form scores an existing COCO results file with pycocotools' COCOeval and nothing else,
so any model's output can be checked. The second runs the model on the val boxes (ground truth,
or data.detections: a COCO results file of person detections), averages the heatmaps and offsets
of each crop and of its mirror, decodes the keypoints (argmax + offset), maps them back to the
image, writes OUT/keypoints_val.json (COCO results format) and scores it. Scores: AP (mean over
10 OKS thresholds), AP50, AP75, APm, APl, AR, written to OUT/coco_eval.json.

Both forms check the results before scoring (``check_results`` of engine/metrics/coco.py, where
the scores are): pycocotools counts a NaN similarity as a match, so NaN keypoints would score AP
100. A bad entry, a model that outputs NaN or inf, or a bad detections file is one line
``error: ...`` and exit status 1, never a score.
"""
import json
import os

from engine.config import add_config_args
from common import cli


def parse_args(argv=None):
    parser = cli.parser(__doc__)
    add_config_args(parser, required=False, cpus=False)  # --config: run a pose model
    parser.add_argument("--ann", help="with --results: the ground-truth keypoints file")
    parser.add_argument("--results", help="score this COCO results file, no model")
    parser.add_argument("--untrained", action="store_true",
                        help="score the freshly initialised model (the baseline)")
    cli.add_dtype_arg(parser)
    return parser.parse_args(argv)


if __name__ == "__main__":  # --help, a bad flag and the thread count: before MXNet loads
    cli.start(parse_args())

# Below: the imports that load MXNet, after the command line is read above.
from tqdm import tqdm

from engine.config import POSE_BASE, load_config
from common.errors import exit_on_error, fail
from common.files import atomic_write_text
from data.keypoints import flip_pose_maps
from data.loader import make_loader
from data.transforms import apply_affine, invert_affine
from common.cli import with_dtype
from engine.experiment import contexts, setup_logging
from engine.pose_experiment import coco_dataset
from engine.pose_eval import load_model
from engine.metrics.coco import STAT_NAMES, check_detections, load_ground_truth, read_json, score
from engine.inference.precision import check_dtype, for_inference
from symbols.pose_decoder import decode_pose_maps, first_non_finite


def read_detections(path, ann_file):
    """data.detections -> (checked person boxes, number of other-category boxes dropped)."""
    _, truth = load_ground_truth(ann_file)
    return check_detections(read_json(path), truth, f"{path}: detections")


def predict(net, dataset, ctx, batch_size=32, flip=True, workers=0, model="the model"):
    """COCO results (list of dicts) for every box of a test-mode ``CocoPose``; ``model`` names
    the weights in the FloatingPointError raised when they output NaN or inf."""
    loader = make_loader(dataset, batch_size, workers=workers)
    stride = net.stride
    results = []
    for image, mirrored, index in tqdm(loader, desc="predict", disable=None):
        index = index.asnumpy().astype(int)
        heat, offsets = (x.asnumpy() for x in net(image.as_in_context(ctx)))
        if flip:
            fh, fo = (x.asnumpy() for x in net(mirrored.as_in_context(ctx)))
            fh, fo = flip_pose_maps(fh, fo)
            heat, offsets = (heat + fh) / 2, (offsets + fo) / 2
        bad = first_non_finite(heat, offsets)
        if bad is not None:
            image_id = dataset.records[index[bad]]["image_id"]
            raise FloatingPointError(f"{model} outputs non-finite heatmaps or offsets (NaN or "
                                     f"inf) for image {image_id}: no keypoints written")
        results += maps_to_results(dataset, index, heat, offsets, stride)
    return results


def maps_to_results(dataset, indices, heat, offsets, stride):
    """Pose maps of crops ``indices`` of ``dataset`` -> COCO results in image pixels; a result's
    score is its box's score times the mean keypoint probability."""
    results = []
    for k, i in zip(decode_pose_maps(heat, offsets, stride, dataset.radius), indices):
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


def run(cfg, ctx, log, untrained=False):
    """Run the model on the val boxes and score it; ``untrained``: the freshly initialised model
    (seeded), the baseline a trained model's AP is compared with."""
    d = cfg["data"]
    detections = None
    if d["detections"]:
        detections, dropped = read_detections(d["detections"], d["val_ann"])
        log.info("%s: %d person boxes; dropped %d boxes of other categories",
                 d["detections"], len(detections), dropped)
    dataset = coco_dataset(cfg, "val", detections)
    # the checkpoint checked against the config: another input size decodes to wrong pixels
    net, ckpt = load_model(cfg, ctx, log, untrained)
    net = for_inference(net, cfg["eval"]["dtype"], ctx)  # eval.dtype
    results = predict(net, dataset, ctx, cfg["eval"]["batch_size"], cfg["eval"]["flip"],
                      d["workers"], model=ckpt)
    tag = "_untrained" if untrained else ""
    path = os.path.join(cfg["out"], f"keypoints_val{tag}.json")
    # allow_nan=False: strict JSON, so no reader ever meets a bare NaN.
    atomic_write_text(path, json.dumps(results, allow_nan=False))
    stats = score(d["val_ann"], path)
    stats.update(checkpoint=ckpt, boxes=d["detections"] or "ground truth")
    atomic_write_text(os.path.join(cfg["out"], f"coco_eval{tag}.json"),
                      json.dumps(stats, indent=1, allow_nan=False))
    log.info("COCO keypoints on %d boxes:\n%s", len(results), table(stats))
    return stats


def main(argv=None):
    args = cli.start(parse_args(argv))
    if args.results:
        if not args.ann:
            fail("--results needs --ann (the ground-truth keypoints file)")
        with exit_on_error():
            stats = score(args.ann, args.results)
        print(table(stats))
        return stats
    if not args.config:
        fail("give --config (run a model) or --ann and --results (score a file)")
    with exit_on_error():
        cfg = load_config(args.config, with_dtype(args.overrides, args.dtype), base=POSE_BASE)
        check_dtype(cfg["eval"]["dtype"], contexts(args.gpus)[0])
        log = setup_logging(cfg["out"], "eval_coco")
    with exit_on_error(log):
        return run(cfg, contexts(args.gpus)[0], log, args.untrained)


if __name__ == "__main__":
    main()
