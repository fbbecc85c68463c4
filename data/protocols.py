"""Datasets by name, the sample index, and the protocol splits.

A dataset adapter is a module with NAME, RESIZE (w, h), FPS, STRIDE, VIDEO_EXTS, CLASSES,
``parse(stem) -> fields`` (ValueError for a name it does not know) and PROTOCOLS
(name -> function(sample) -> "train" | "test" | None for samples a protocol leaves out).

An adapter whose samples come from annotation files rather than video names (Penn Action:
data/penn_action.py) has ``list_samples(path) -> (samples, skipped)`` instead, and ``--names``
is its dataset folder.

``python -m data.protocols --dataset ntu --names FILE_OR_DIR`` prints each protocol's train/test
counts as JSON, from a directory of videos or a text file with one file name per line, so a copy
of a dataset can be checked against the published sizes before anything is decoded.

The pose datasets (POSE_DATASETS) are annotation files rather than videos named by their fields:
each module has NAME, JOINTS and ``count_splits(path) -> {protocol: {"train": n, "test": n}}``,
and ``--names`` is what that dataset ships: MPII a JSON annotation file (or their folder), H36M an
mmpose .npz (or their folder), Penn Action the labels folder, NTU skeletons a folder of .skeleton
files (or a list of names).
"""
import argparse
import importlib
import json
import os
import sys

from common.errors import one_line

DATASETS = ("ntu", "nucla", "msr", "utd", "synth", "penn_action", "custom")
# pose dataset name -> the adapter that reads its files (Penn's label files and NTU's skeletons
# are read by the video adapters of the same datasets)
POSE_DATASETS = {"mpii": "mpii", "h36m": "h36m", "penn": "penn_action", "ntu_skeleton": "ntu"}


def get_dataset(name, prepared=None):
    """The adapter of a dataset by name. ``custom`` (your own videos, data/custom.py) has its
    classes in the prepared folder: with ``prepared`` given, the adapter read from there."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    module = importlib.import_module(f"data.{name}")
    return module.load(prepared) if name == "custom" and prepared is not None else module


def get_pose_dataset(name):
    if name not in POSE_DATASETS:
        raise ValueError(f"unknown pose dataset {name!r}; choose one of "
                         f"{', '.join(POSE_DATASETS)}")
    return importlib.import_module(f"data.{POSE_DATASETS[name]}")


def stem_of(path):
    return os.path.splitext(os.path.basename(path))[0]


def list_names(source, exts=None, what="--names"):
    """File names from a directory (recursive, videos only when ``exts``) or a list file;
    ``what`` names the argument that gave ``source`` in the error for a missing one."""
    if os.path.isdir(source):
        names = []
        for root, _, files in os.walk(source):
            names += [os.path.join(root, f) for f in files
                      if exts is None or f.lower().endswith(tuple(exts))]
        return sorted(names)
    if os.path.isfile(source):
        with open(source) as f:
            return [line.strip() for line in f if line.strip()]
    raise FileNotFoundError(f"{what}: no such file or directory: {source}")


def parse_names(dataset, names):
    """-> (samples, skipped): samples are dicts with 'path'; skipped are (name, reason) rows.

    A name is skipped when it does not parse or duplicates an earlier sample's id.
    """
    samples, skipped, seen = [], [], set()
    for name in names:
        try:
            fields = dataset.parse(stem_of(name))
        except ValueError as err:
            skipped.append((name, f"unparseable name: {err}"))
            continue
        if fields["id"] in seen:
            skipped.append((name, f"duplicate of sample {fields['id']}"))
            continue
        seen.add(fields["id"])
        samples.append(dict(fields, path=name))
    return samples, skipped


def split(dataset, samples, protocol):
    """-> {'train': [ids], 'test': [ids]} of ``protocol``."""
    if protocol not in dataset.PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r} for {dataset.NAME}; choose one of "
                         f"{', '.join(dataset.PROTOCOLS)}")
    rule = dataset.PROTOCOLS[protocol]
    out = {"train": [], "test": []}
    for s in samples:
        side = rule(s)
        if side is not None:
            out[side].append(s["id"])
    return out


def all_splits(dataset, samples):
    return {p: split(dataset, samples, p) for p in dataset.PROTOCOLS}


def counts(dataset, samples):
    """{protocol: {'train': n, 'test': n}}."""
    return {p: {k: len(v) for k, v in s.items()} for p, s in all_splits(dataset, samples).items()}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Protocol train/test counts of a dataset copy.")
    parser.add_argument("--dataset", required=True, choices=DATASETS + tuple(POSE_DATASETS))
    parser.add_argument("--names", required=True,
                        help="a directory of videos, or a text file with one file name a line; "
                             "penn_action its folder (labels/ and frames/); "
                             "pose datasets: mpii a .json, h36m an .npz, penn the labels folder, "
                             "ntu_skeleton a folder of .skeleton files (or a list)")
    return parser.parse_args(argv)


def pose_main(name, path):
    """Split counts of a pose dataset's annotation files, as JSON; one line on a bad file."""
    dataset = get_pose_dataset(name)
    try:
        splits = dataset.count_splits(path)
    except (OSError, ValueError) as err:
        sys.exit(f"error: {one_line(err)}")
    print(json.dumps({"dataset": name, "source": path, "protocols": splits}, indent=2))
    if not any(n for s in splits.values() for n in s.values()):
        sys.exit(f"error: no usable {name} sample in {path}")


def main(argv=None):
    args = parse_args(argv)
    if args.dataset in POSE_DATASETS:
        return pose_main(args.dataset, args.names)
    dataset = get_dataset(args.dataset)
    try:
        if hasattr(dataset, "list_samples"):
            samples, skipped = dataset.list_samples(args.names)
            names = samples + skipped
        else:
            names = list_names(args.names,
                               dataset.VIDEO_EXTS if os.path.isdir(args.names) else None)
            samples, skipped = parse_names(dataset, names)
    except FileNotFoundError as err:
        sys.exit(f"error: {err}")
    report = {"dataset": dataset.NAME, "samples": len(samples), "skipped": len(skipped),
              "protocols": counts(dataset, samples)}
    print(json.dumps(report, indent=2))
    for name, reason in skipped:
        print(f"skipped {name}: {reason}", file=sys.stderr)
    if not samples:
        sys.exit(f"error: no usable {dataset.NAME} sample among {len(names)} names")


if __name__ == "__main__":
    main()
