"""Your own videos: a folder of videos and an annotation list, as a dataset of this toolkit.

    python -m data.prepare --dataset custom --raw VIDEOS --list LIST.csv [--classes CLASSES.txt]
        [--splits SPLITS.csv] [--short-side 256] --out work/custom/prepared

LIST.csv: a header row naming the columns, then one video a row:

    path,label[,split][,subject][,view]

``path`` is relative to VIDEOS (or absolute); ``label`` is a class name, or a 0-based index into
CLASSES.txt when one is given; ``split`` is train or test; ``subject`` and ``view`` are kept in
the index as given. CLASSES.txt: one class name a line, in label order; without it the classes
are the list's labels, sorted. The splits come from the list's ``split`` column or from
SPLITS.csv (``path,split``, a row for every listed video). The protocol is called ``list``.

Every problem of the list stops the preparation with one line naming the row: a video that is
not there, a label outside the classes, a path listed twice, a split other than train or test,
a split with no video. The prepared folder also holds dataset.json: the classes (in label
order), the short side and the test frame step, which ``load(prepared)`` reads back for
training, test and demo_video.py's class names.

A video's id is its path below VIDEOS without the extension, folders joined by ``__``.
"""
import csv
import json
import os

NAME = "custom"
COLUMNS = ("path", "label", "split", "subject", "view")
SPLITS = ("train", "test")
VIDEO_EXTS = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg")
SHORT_SIDE = 256  # resize so the shorter side is this many pixels (the paper's 256 rows)
RESIZE = SHORT_SIDE  # data/prepare.py: an int is the shorter side
STRIDE = 2  # test frame step: clips of 8 frames cover 16 (0.5 s at 30 fps)
FPS = 30.0  # for a video that does not say its rate
DATASET_FILE = "dataset.json"
PROTOCOLS = {"list": lambda sample: sample["split"]}


def _rows(path, columns, required):
    """A CSV file with a header -> (header, [(row number, {column: value})])."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such file: {path}")
    with open(path, newline="") as f:
        table = [r for r in csv.reader(f)]
    numbered = [(n, [c.strip() for c in r]) for n, r in enumerate(table, 1)
                if any(c.strip() for c in r)]
    if not numbered:
        raise ValueError(f"{path} is empty")
    (_, header), body = numbered[0], numbered[1:]
    header = [h.lower() for h in header]
    unknown = [h for h in header if h not in columns]
    if any(c not in header for c in required) or unknown or len(set(header)) < len(header):
        optional = ",".join(c for c in columns if c not in required)
        raise ValueError(f"{path}:1: the first row must name the columns {','.join(required)}"
                         + (f"[,{optional}]" if optional else "")
                         + f"; it is {','.join(header)!r}")
    rows = []
    for n, r in body:
        if len(r) != len(header):
            raise ValueError(f"{path}:{n}: {len(r)} fields, the header names {len(header)}")
        rows.append((n, dict(zip(header, r))))
    if not rows:
        raise ValueError(f"{path} lists no video (only its header)")
    return header, rows


def read_classes(path):
    """CLASSES.txt -> [class names] in label order."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"--classes: no such file: {path}")
    with open(path) as f:
        names = [line.strip() for line in f if line.strip()]
    if not names:
        raise ValueError(f"{path} names no class")
    seen = {}
    for n, name in enumerate(names, 1):
        if name in seen:
            raise ValueError(f"{path}:{n}: class {name!r} is named again (first on line "
                             f"{seen[name]})")
        seen[name] = n
    return names


def video_id(rel):
    """'kitchen/a 01.mp4' -> 'kitchen__a_01': a file name for the prepared video."""
    stem = os.path.splitext(rel)[0].replace(os.sep, "/").strip("/")
    return "__".join(part.replace(" ", "_") for part in stem.split("/"))


def _label(value, classes, where, classes_path):
    if classes_path is None:
        return value
    if value in classes:
        return value
    if value.isdigit():
        if int(value) < len(classes):
            return classes[int(value)]
        raise ValueError(f"{where}: label {value} is outside {classes_path}'s "
                         f"0..{len(classes) - 1}")
    raise ValueError(f"{where}: label {value!r} is not a class of {classes_path} "
                     f"({len(classes)} classes)")


def _sort_key(name):
    return (0, int(name), "") if name.isdigit() else (1, 0, name)


def read_list(list_path, videos, classes_path=None, splits_path=None):
    """The annotation list, checked -> (samples, classes): a sample a video with its id, path
    (absolute), label (an index into classes), split and the optional subject and view."""
    header, rows = _rows(list_path, COLUMNS, ("path", "label"))
    classes = read_classes(classes_path) if classes_path else None
    splits = _read_splits(splits_path, videos) if splits_path else None
    if splits is None and "split" not in header:
        raise ValueError(f"{list_path} has no split column: add one (train or test a video), "
                         f"or give --splits FILE (path,split)")
    samples, first, ids = [], {}, {}
    for n, row in rows:
        where = f"{list_path}:{n}"
        rel = row["path"]
        path = rel if os.path.isabs(rel) else os.path.join(videos, rel)
        key = os.path.normpath(path)
        if key in first:
            raise ValueError(f"{where}: {rel} is listed again (first on row {first[key]})")
        first[key] = n
        if not os.path.isfile(path):
            raise ValueError(f"{where}: no video {path}")
        label = _label(row["label"], classes, where, classes_path)
        split = splits.get(key) if splits is not None else row["split"].lower()
        if split is None:
            raise ValueError(f"{where}: {rel} has no row in {splits_path}")
        if split not in SPLITS:
            raise ValueError(f"{where}: split {split!r}; it is train or test")
        sid = video_id(os.path.relpath(path, videos) if not os.path.isabs(rel) else rel)
        if sid in ids:
            raise ValueError(f"{where}: {rel} gives the same id {sid!r} as row {ids[sid]}")
        ids[sid] = n
        sample = dict(id=sid, path=path, label=label, split=split)
        for key_ in ("subject", "view"):
            if row.get(key_):
                sample[key_] = row[key_]
        samples.append(sample)
    if splits is not None:
        extra = sorted(set(splits) - set(first))
        if extra:
            raise ValueError(f"{splits_path}: {extra[0]} is not in {list_path}")
    if classes is None:
        classes = sorted({s["label"] for s in samples}, key=_sort_key)
    for split in SPLITS:
        if not any(s["split"] == split for s in samples):
            raise ValueError(f"{list_path}: no video in the {split} split")
    for s in samples:
        s["label"] = classes.index(s["label"])
    return samples, classes


def _read_splits(path, videos):
    _, rows = _rows(path, ("path", "split"), ("path", "split"))
    out = {}
    for n, row in rows:
        rel = row["path"]
        key = os.path.normpath(rel if os.path.isabs(rel) else os.path.join(videos, rel))
        if key in out:
            raise ValueError(f"{path}:{n}: {rel} is listed again")
        out[key] = row["split"].lower()
    return out


def write_dataset_file(prepared, classes, short_side=SHORT_SIDE, stride=STRIDE):
    """PREPARED/dataset.json: what training and test need to know of the videos."""
    from common.files import atomic_write_text
    atomic_write_text(os.path.join(prepared, DATASET_FILE), json.dumps(dict(
        name=NAME, classes=list(classes), short_side=short_side, stride=stride), indent=1))


class Prepared:
    """A prepared custom dataset as an adapter: NAME, CLASSES, STRIDE, PROTOCOLS, ..."""
    NAME, PROTOCOLS, VIDEO_EXTS, FPS = NAME, PROTOCOLS, VIDEO_EXTS, FPS

    def __init__(self, record):
        self.CLASSES = tuple(record["classes"])
        self.STRIDE = int(record.get("stride", STRIDE))
        self.RESIZE = int(record.get("short_side", SHORT_SIDE))


def load(prepared):
    """The custom dataset prepared in ``prepared`` (its dataset.json)."""
    path = os.path.join(prepared, DATASET_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such file; a custom dataset is prepared with python "
                                f"-m data.prepare --dataset custom --raw VIDEOS --list LIST.csv "
                                f"--out {prepared}")
    with open(path) as f:
        return Prepared(json.load(f))
