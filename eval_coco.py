"""COCO keypoint AP of the 2D pose model, or of any results file (paper Sec. 4.2, Table 3).

    python eval_coco.py --ann person_keypoints_val2017.json --results results.json
    python eval_coco.py --config configs/pose/coco_r50_384x288.yaml [key=value ...]

The first form scores an existing COCO results file with pycocotools' COCOeval and nothing else,
so any model's output can be checked. The second runs the model on the val boxes (ground truth,
or data.detections: a COCO results file of person detections), averages the heatmaps and offsets
of each crop and of its mirror, decodes the keypoints (argmax + offset), maps them back to the
image, writes OUT/keypoints_val.json (COCO results format) and scores it. Scores: AP (mean over
10 OKS thresholds), AP50, AP75, APm, APl, AR, written to OUT/coco_eval.json.

Both forms check the results before scoring (``check_results``): pycocotools counts a NaN
similarity as a match, so NaN keypoints would score AP 100. A bad entry, a model that outputs
NaN or inf, or a bad detections file is one line ``error: ...`` and exit status 1, never a score.
"""
import collections
import contextlib
import io
import json
import math
import numbers
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
from common.errors import exit_on_error, fail, one_line
from common.files import atomic_write_text
from data.keypoints import flip_pose_maps
from data.loader import make_loader
from data.transforms import apply_affine, invert_affine
from common.cli import with_dtype
from engine.experiment import contexts, setup_logging
from engine.pose_experiment import coco_dataset
from engine.pose_eval import load_model
from engine.inference.precision import check_dtype, for_inference
from symbols.pose_decoder import decode_pose_maps, first_non_finite

STAT_NAMES = ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")

# What every result or detection must refer to: an image of the ground truth, its person category.
Truth = collections.namedtuple("Truth", "image_ids person_id num_keypoints")


def quiet():
    return contextlib.redirect_stdout(io.StringIO())  # pycocotools prints as it goes


def read_json(path):
    """The JSON value in ``path``; a file that is not JSON is a one-line ValueError naming it."""
    with open(path) as f:
        try:
            return json.load(f)
        except ValueError as err:  # bad JSON, or bytes that are not UTF-8 text
            raise ValueError(f"{path} is not a JSON file ({one_line(err)})") from None


def load_ground_truth(ann_file):
    """-> (pycocotools COCO of a keypoints file, its Truth). Built from our own read so that a
    malformed file is a ValueError naming it rather than an assertion inside pycocotools."""
    from pycocotools.coco import COCO
    data = read_json(ann_file)
    if not isinstance(data, dict) or not all(isinstance(data.get(k), list)
                                             for k in ("images", "annotations", "categories")):
        raise ValueError(f"{ann_file} is not a COCO keypoints file (it needs lists 'images', "
                         f"'annotations' and 'categories')")
    person = [c for c in data["categories"] if isinstance(c, dict) and c.get("name") == "person"]
    if not person or not isinstance(person[0].get("keypoints"), list):
        raise ValueError(f"{ann_file} has no 'person' category with a list of keypoints")
    gt = COCO()
    gt.dataset = data
    try:
        with quiet():
            gt.createIndex()
    except (KeyError, TypeError) as err:
        raise ValueError(f"{ann_file}: malformed COCO entry ({type(err).__name__}: {err})") \
            from None
    return gt, Truth(set(gt.getImgIds()), person[0]["id"], len(person[0]["keypoints"]))


def _short(value):
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _number_problem(v):
    """'a non-finite value (NaN)' if ``v`` is not a finite number, else None. Booleans are not
    numbers here, although Python says they are."""
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        return f"a non-number ({_short(v)})"
    if not math.isfinite(v):
        return f"a non-finite value ({'NaN' if v != v else 'Infinity' if v > 0 else '-Infinity'})"
    return None


def _first_bad_number(values):
    """'a non-finite value (NaN) at index 5' for the first bad entry of ``values``, else None."""
    for j, v in enumerate(values):
        problem = _number_problem(v)
        if problem:
            return f"{problem} at index {j}"
    return None


def _check_list(entries, name):
    if not isinstance(entries, list):
        raise ValueError(f"{name} must be a JSON list of dicts, not a {type(entries).__name__}")
    if not entries:
        raise ValueError(f"{name} is an empty list")


def _check_entry(where, entry, keys, truth):
    """The checks a result and a detection share: a dict with ``keys``, a known image, a score."""
    if not isinstance(entry, dict):
        raise ValueError(f"{where} is not a dict but a {type(entry).__name__}")
    missing = [k for k in keys if k not in entry]
    if missing:
        raise ValueError(f"{where} has no {missing[0]!r}")
    try:
        known = not isinstance(entry["image_id"], bool) and entry["image_id"] in truth.image_ids
    except TypeError:  # an unhashable image_id
        known = False
    if not known:
        raise ValueError(f"{where}: image_id {_short(entry['image_id'])} is not one of the "
                         f"{len(truth.image_ids)} images of the ground truth")
    bad = _number_problem(entry["score"])
    if bad:
        raise ValueError(f"{where}: score is {bad}")


def check_results(results, truth, name="results"):
    """A one-line ValueError at the first entry pycocotools would not score as meant: it counts a
    NaN keypoint similarity as a match (a NaN model scores AP 100) and takes short keypoint
    lists, unknown images or other categories without a word."""
    _check_list(results, name)
    for i, r in enumerate(results):
        where = f"{name}[{i}]"
        _check_entry(where, r, ("image_id", "category_id", "keypoints", "score"), truth)
        if r["category_id"] != truth.person_id:
            raise ValueError(f"{where}: category_id {_short(r['category_id'])} is not the ground "
                             f"truth's person category ({truth.person_id})")
        kps, count = r["keypoints"], 3 * truth.num_keypoints
        if not isinstance(kps, list) or len(kps) != count:
            got = f"{len(kps)} values" if isinstance(kps, list) else f"a {type(kps).__name__}"
            raise ValueError(f"{where}: keypoints must be a list of {count} numbers (x, y, v for "
                             f"each of {truth.num_keypoints} keypoints), not {got}")
        bad = _first_bad_number(kps)
        if bad:
            raise ValueError(f"{where}: keypoints hold {bad}")


def check_detections(detections, truth, name="detections"):
    """Person boxes of a COCO results list of detections -> (those entries, how many boxes of
    other categories were dropped). Checked as ``check_results``: a NaN or empty box would crop
    nothing and still be scored."""
    _check_list(detections, name)
    for i, d in enumerate(detections):
        where = f"{name}[{i}]"
        _check_entry(where, d, ("image_id", "bbox", "score"), truth)
        box = d["bbox"]
        if not isinstance(box, list) or len(box) != 4:
            raise ValueError(f"{where}: bbox must be a list [x, y, w, h], not {_short(box)}")
        bad = _first_bad_number(box)
        if bad:
            raise ValueError(f"{where}: bbox holds {bad}")
        if box[2] <= 0 or box[3] <= 0:
            raise ValueError(f"{where}: bbox {box} has a width or height <= 0")
    # A detector's file may hold every class; an entry without a category is taken as a person.
    people = [d for d in detections if d.get("category_id", truth.person_id) == truth.person_id]
    if not people:
        raise ValueError(f"{name} hold no box of the person category ({truth.person_id})")
    return people, len(detections) - len(people)


def read_detections(path, ann_file):
    """data.detections -> (checked person boxes, number of other-category boxes dropped)."""
    _, truth = load_ground_truth(ann_file)
    return check_detections(read_json(path), truth, f"{path}: detections")


def score(ann_file, results):
    """COCOeval keypoints stats of ``results`` (a path or a list) against ``ann_file``; the
    results are checked first (``check_results``), so a bad one is an error, never a score."""
    from pycocotools.cocoeval import COCOeval
    gt, truth = load_ground_truth(ann_file)
    name = "results"
    if isinstance(results, str):
        name = f"{results}: results"
        results = read_json(results)
    check_results(results, truth, name)
    with quiet():
        dt = gt.loadRes(results)
        ev = COCOeval(gt, dt, "keypoints")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return dict(zip(STAT_NAMES, (float(v) for v in ev.stats)))


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
