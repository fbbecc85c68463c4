"""Luvizon et al.'s Figure 8 from any multitask results: the top-1 of every action prediction block
of the pose and appearance streams and of their aggregation, one line per stream and run (the
paper draws separate training against fine-tuning on NTU).

    python -m tools.figure8 --run separate=runs/ntu_xsub_softargmax_separate/results.json \
        --run fine-tuned=runs/ntu_xsub_softargmax_finetuned/results.json --out figure8.png

Each --run is LABEL=PATH (or PATH alone: labelled by its experiment): a results.json that
eval_action.py wrote for a multitask model (softargmax_multitask*), single- or multi-clip; one
or more. Nothing is run: the numbers are the files' (``top1_blocks``, ``top1``). A file that is
missing, not JSON or not a multitask model's results is one line ``error: ...``, exit status 1.
"""
import argparse
import json
import os
import sys

from common.errors import exit_on_error
from engine.views.plots import block_accuracy_figure


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", action="append", required=True, metavar="[LABEL=]PATH",
                        help="a multitask results.json, optionally labelled; repeat")
    parser.add_argument("--out", required=True, help="the PNG to write")
    parser.add_argument("--title", help="default: the test (single- or multi-clip)")
    return parser.parse_args(argv)


def read_run(text):
    """--run LABEL=PATH or PATH -> (label, results)."""
    label, sep, path = text.rpartition("=")
    if not sep:
        label, path = None, text
    try:
        with open(path) as f:
            results = json.load(f)
    except OSError as err:
        raise FileNotFoundError(f"--run {text}: cannot read {path} ({err.strerror})") from None
    except ValueError:
        raise ValueError(f"--run {text}: {path} is not JSON") from None
    blocks = results.get("top1_blocks") if isinstance(results, dict) else None
    if not (isinstance(blocks, dict) and {"pose", "appearance"} <= set(blocks)
            and "aggregation" in results.get("top1", {})):
        raise ValueError(f"--run {text}: {path} holds no per-block top-1 (top1_blocks): not the "
                         f"results of a multitask model (eval_action.py with "
                         f"softargmax_multitask*)")
    return label or results.get("experiment", os.path.basename(os.path.dirname(path))), results


def draw(runs, out, title=None):
    """[(label, results)] -> Figure 8 at ``out``."""
    tests = sorted({r.get("clips", "single") for _, r in runs})
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    block_accuracy_figure(runs, out, title=title or f"top-1 per action block "
                                                     f"({' / '.join(tests)}-clip)")
    return out


def main(argv=None):
    args = parse_args(argv)
    with exit_on_error():
        runs = [read_run(text) for text in args.run]
        draw(runs, args.out, args.title)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    sys.exit(main())
