"""Every dataset the project reads, one entry each under one name, and what the project knows of
it: its adapter module and, where it has them, its videos, its pose annotation files' split
counter, its pose records reader, its joint layout and its pose-config folder key.

    >>> from data import registry
    >>> penn = registry.dataset("penn_action")
    >>> penn.video, penn.pose_files, penn.reader, penn.joints, penn.root_key
    (True, True, 'penn_records', 'penn_action', 'penn_root')
    >>> registry.names("reader")
    ('ntu', 'penn_action', 'mpii', 'h36m')

The parts, and who reads them:
- ``module``: the adapter (``data/<name>.py``), imported on first use (``adapter()``). A video
  dataset's adapter has NAME (the entry's name), RESIZE, FPS, STRIDE, VIDEO_EXTS, CLASSES,
  PROTOCOLS and ``parse(stem)``, or ``list_samples(root)`` when its samples come from annotation
  files (Penn Action); ``custom``'s classes are in the prepared folder (``adapter(prepared)``).
- ``video``: an action dataset of videos (config ``data.dataset``, ``python -m data.prepare``,
  ``detect_persons.py``, data/protocols.py's splits).
- ``pose_files``: its adapter's ``count_splits(path)`` counts the pose annotation files a copy
  ships (``python -m data.protocols --dataset NAME --pose``).
- ``reader``: its function in data/multitask/pose_records.py, reading those files as records for
  the soft-argmax pose model (config ``data.source``, ``data.test_source``, ``data.mix``).
- ``joints``: its key in data/joints.py's JOINTS and TO_COMMON (the joint names and their place
  in the common layouts). The synthetic person has COCO's 17 joints.
- ``root_key``: the pose config key of its folder (configs/pose/base.yaml).
- ``source``: what ``data.source: NAME`` trains on: "records" (``reader``,
  data/multitask/pose_images.py), "frames" (the prepared videos' ground truth,
  data/multitask/pose_frames.py) or "coco" (data/coco.py); None: not a pose source. ``mix``
  (MIX) is the other data.source: a per-step mixture of records sources.

Old names (``aliases``) resolve to their entry with a one-line notice on stderr, once a process:
NTU's skeletons were ``ntu_skeleton`` and Penn Action's pose files ``penn``. Penn Action is
``penn_action``, as its adapter's NAME, the prepared splits.json and ``data.dataset`` have it.

This module imports nothing of the project but common/, so the config loader and every command
line can read the names without loading an adapter.
"""
import dataclasses
import importlib

from common.errors import notice_once

MIX = "mix"  # data.source of a per-step mixture of the records sources in data.mix
PARTS = {None: "dataset", "video": "video dataset", "pose_files": "pose dataset",
         "reader": "pose source", "source": "pose source", "joints": "joint layout"}


@dataclasses.dataclass(frozen=True)
class Dataset:
    name: str
    module: str  # the adapter module, e.g. "data.ntu"
    video: bool = False
    pose_files: bool = False
    reader: str = None  # a function of data.multitask.pose_records
    joints: str = None  # a key of data.joints.JOINTS and TO_COMMON
    root_key: str = None  # a pose config key under data
    source: str = None  # "records", "frames" or "coco"
    aliases: tuple = ()

    def has(self, part):
        return part is None or bool(getattr(self, part))

    def adapter(self, prepared=None):
        """The adapter module; ``custom`` with ``prepared``: the adapter read from there."""
        module = importlib.import_module(self.module)
        if prepared is not None and hasattr(module, "load"):
            return module.load(prepared)
        return module


ENTRIES = (
    Dataset("ntu", "data.ntu", video=True, pose_files=True, reader="ntu_records", joints="ntu",
            root_key="ntu_root", source="records", aliases=("ntu_skeleton",)),
    Dataset("nucla", "data.nucla", video=True),
    Dataset("msr", "data.msr", video=True),
    Dataset("utd", "data.utd", video=True),
    Dataset("synth", "data.synth", video=True, joints="coco", source="frames"),
    Dataset("penn_action", "data.penn_action", video=True, pose_files=True,
            reader="penn_records", joints="penn_action", root_key="penn_root",
            source="records", aliases=("penn",)),
    Dataset("custom", "data.custom", video=True),
    Dataset("mpii", "data.mpii", pose_files=True, reader="mpii_records", joints="mpii",
            root_key="mpii_root", source="records"),
    Dataset("h36m", "data.h36m", pose_files=True, reader="h36m_records", joints="h36m",
            root_key="h36m_root", source="records"),
    Dataset("coco", "data.coco", joints="coco", source="coco"),
)
DATASETS = {d.name: d for d in ENTRIES}
ALIASES = {old: d.name for d in ENTRIES for old in d.aliases}


def names(part=None):
    """The names of the entries that have ``part`` (a field of Dataset; None: all), in order."""
    return tuple(d.name for d in DATASETS.values() if d.has(part))


def register(entry):
    """Add a dataset (a ``Dataset``) to the registry at run time: the same as a line in
    ``ENTRIES``. Its adapter is the module ``entry.module`` (any importable module); a name or
    an old name already taken is a ValueError."""
    taken = [n for n in (entry.name,) + tuple(entry.aliases) if n in DATASETS or n in ALIASES]
    if taken:
        raise ValueError(f"dataset name {taken[0]!r} is taken")
    DATASETS[entry.name] = entry
    ALIASES.update({old: entry.name for old in entry.aliases})


def canonical(name):
    """The current name of ``name``: an old one's entry name (with its notice, once), any other
    value as it is (an unknown one is for the caller to refuse)."""
    if name in ALIASES:
        notice_once(("dataset", name), f"{name} is now {ALIASES[name]}; the old name works "
                                       f"until the next release")
        return ALIASES[name]
    return name


def dataset(name, part=None):
    """The entry of ``name`` (or of an old name), one that has ``part`` when given; another name
    is a one-line ValueError listing the names that have it."""
    entry = DATASETS.get(canonical(name)) if isinstance(name, str) else None
    if entry is None or not entry.has(part):
        raise ValueError(f"unknown {PARTS.get(part, part)} {name!r}; choose one of "
                         f"{', '.join(names(part))}")
    return entry
