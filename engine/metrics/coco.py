"""COCO scores with pycocotools: keypoint AP and AR of pose results (``score``: the 10 COCOeval
stats, ``STAT_NAMES``; paper Sec. 4.2, Table 3) and person-box AP of detections
(``person_box_ap``). What they read is checked against the ground truth first
(``check_results``, ``check_detections``): pycocotools counts a NaN keypoint similarity as a
match, so a NaN model would score AP 100, and it takes short keypoint lists, unknown images or
other categories without a word.
"""
import collections
import contextlib
import io
import json
import math
import numbers

from common.errors import one_line
from data.coco_detections import PERSON

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


def person_box_ap(ann, results):
    """COCO box AP of person ``results`` against ``ann`` (pycocotools): the number detectors'
    person files are known by (Simple Baselines' val2017 boxes: 56.4)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    with quiet():
        gt = COCO(ann)
        ev = COCOeval(gt, gt.loadRes([dict(r) for r in results]), "bbox")  # it adds keys
        ev.params.catIds = [PERSON]
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return float(ev.stats[0])
