"""Per-video stages over several processes or machines: ``--shard K/N``.

Shard K of N (1-based) takes every N-th item from the K-th, so N processes (one a GPU, or one a
node of a SLURM array) share a stage with no coordination. Each writes its own part file
(``part_path``: OUT.shardKofN.EXT beside OUT); the last to finish finds all N and merges them,
after ``check_once`` has proved that together they hold every item exactly once (a part file
of another run, or a missing item, is an error, never a silent gap).
"""
import argparse
import json
import logging
import os

log = logging.getLogger(__name__)


class ShardError(ValueError):
    """Part files that do not add up to the whole stage."""


def parse(value):
    """'K/N' -> (K, N), for argparse (``type=``)."""
    try:
        k, n = (int(v) for v in value.split("/"))
    except ValueError:
        k = n = 0
    if not 1 <= k <= n:
        raise argparse.ArgumentTypeError(f"{value!r}: expected K/N with 1 <= K <= N, e.g. 2/4")
    return k, n


def pick(items, shard):
    """Shard (k, n)'s items: every n-th from the k-th; all of them when ``shard`` is None."""
    if shard is None:
        return list(items)
    k, n = shard
    return list(items)[k - 1::n]


def part_path(out, k, n):
    """OUT's part file of shard k of n: boxes.json -> boxes.shard2of4.json."""
    root, ext = os.path.splitext(out)
    return f"{root}.shard{k}of{n}{ext}"


def all_parts(out, n):
    """The N part files of OUT once all exist, else None (logged: the last shard merges)."""
    paths = [part_path(out, k, n) for k in range(1, n + 1)]
    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
        log.info("waiting for %d other shard(s), e.g. %s; the last to finish writes %s",
                 len(missing), missing[0], out)
        return None
    return paths


def check_once(found, expected, what, error=ShardError):
    """``found`` (the ids the parts hold, with repeats) must be ``expected`` exactly once each;
    otherwise ``error`` naming the first missing or repeated id."""
    found, expected = list(found), list(expected)
    if len(found) == len(expected) and set(found) == set(expected):
        return
    seen, repeated = set(), None
    for i in found:
        if i in seen and repeated is None:
            repeated = i
        seen.add(i)
    missing = [i for i in expected if i not in seen]
    detail = f"first missing {missing[0]!r}" if missing else \
        f"first repeated {repeated!r}" if repeated is not None else \
        f"first unknown {next(i for i in found if i not in set(expected))!r}"
    raise error(f"{what} do not hold each of the {len(expected)} indexed videos once "
                f"({len(found)} entries; {detail}): files of another run?")


def write_part(out, shard, items, skipped):
    """Shard (k, n)'s part file of OUT: JSON {"shard": [k, n], "items": [...], "skipped":
    [[name, reason], ...]}, written whole or not at all."""
    from common.files import atomic_write_text
    k, n = shard
    path = part_path(out, k, n)
    atomic_write_text(path, json.dumps(dict(shard=[k, n], items=list(items),
                                            skipped=[list(s) for s in skipped])))
    return path


def merge_parts(out, n, expected, key=lambda item: item):
    """Once all N part files of OUT exist: (items, skipped) of all of them, checked to hold each
    of ``expected`` exactly once (``key(item)`` for items, the name for skipped); None while
    parts are missing."""
    paths = all_parts(out, n)
    if paths is None:
        return None
    items, skipped = [], []
    for path in paths:
        try:
            with open(path) as f:
                part = json.load(f)
            items += part["items"]
            skipped += [tuple(s) for s in part["skipped"]]
        except (ValueError, KeyError, TypeError) as err:
            raise ShardError(f"{path} is not a shard part file ({err})") from None
    check_once([key(i) for i in items] + [name for name, _ in skipped], expected,
               f"the {n} shard files of {out}")
    return items, skipped
