"""The sample index and the protocol splits of a dataset, and the command that counts them.

The datasets, by name, are data/registry.py's: ``registry.dataset(name, "video").adapter()`` is a
video dataset's adapter, a module with NAME, RESIZE (w, h), FPS, STRIDE, VIDEO_EXTS, CLASSES,
``parse(stem) -> fields`` (ValueError for a name it does not know) and PROTOCOLS
(name -> function(sample) -> "train" | "test" | None for samples a protocol leaves out).

An adapter whose samples come from annotation files rather than video names (Penn Action:
data/penn_action.py) has ``list_samples(path) -> (samples, skipped)`` instead, and ``--names``
is its dataset folder.

``python -m data.protocols --dataset ntu --names FILE_OR_DIR`` prints each protocol's train/test
counts as JSON, from a directory of videos or a text file with one file name per line, so a copy
of a dataset can be checked against the published sizes before anything is decoded.

``--pose`` counts a dataset's pose annotation files instead (the registry's ``pose_files``: MPII
and Human3.6M have nothing else, so for them it is implied): its adapter has NAME, JOINTS and
``count_splits(path) -> {protocol: {"train": n, "test": n}}``, and ``--names`` is what that
dataset ships: MPII a JSON annotation file (or their folder), H36M an mmpose .npz (or their
folder), Penn Action the labels folder, NTU a folder of .skeleton files (or a list of names).
The old names ``ntu_skeleton`` and ``penn`` named these counts: they still do, with a notice.
"""
import argparse
import json
import os
import sys

from common.errors import one_line
from data import registry

# old names that meant the pose files' counts (the registry resolves them to their entry)
POSE_FILES_ALIASES = ("ntu_skeleton", "penn")


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
    counted = registry.names("video") + tuple(n for n in registry.names("pose_files")
                                              if n not in registry.names("video"))
    parser.add_argument("--dataset", required=True, metavar="NAME",
                        help=f"one of {', '.join(counted)}")
    parser.add_argument("--names", required=True,
                        help="a directory of videos, or a text file with one file name a line; "
                             "penn_action its folder (labels/ and frames/); with --pose: mpii "
                             "a .json, h36m an .npz, penn_action the labels folder, ntu a folder "
                             "of .skeleton files (or a list)")
    parser.add_argument("--pose", action="store_true",
                        help="count the dataset's pose annotation files, not its videos "
                             "(implied for mpii and h36m)")
    args = parser.parse_args(argv)
    if registry.canonical(args.dataset) not in counted:
        parser.error(f"unknown dataset {args.dataset!r}; choose one of {', '.join(counted)}")
    entry = registry.dataset(args.dataset)
    args.pose = args.pose or args.dataset in POSE_FILES_ALIASES or not entry.video
    try:
        args.dataset = registry.dataset(entry.name, "pose_files" if args.pose else "video").name
    except ValueError as err:
        parser.error(str(err))
    return args


def pose_main(name, path):
    """Split counts of a pose dataset's annotation files, as JSON; one line on a bad file."""
    dataset = registry.dataset(name, "pose_files").adapter()
    try:
        splits = dataset.count_splits(path)
    except (OSError, ValueError) as err:
        sys.exit(f"error: {one_line(err)}")
    print(json.dumps({"dataset": name, "source": path, "protocols": splits}, indent=2))
    if not any(n for s in splits.values() for n in s.values()):
        sys.exit(f"error: no usable {name} sample in {path}")


def main(argv=None):
    args = parse_args(argv)
    if args.pose:
        return pose_main(args.dataset, args.names)
    dataset = registry.dataset(args.dataset, "video").adapter()
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
