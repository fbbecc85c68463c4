"""make demo-bf16 / demo-int8: the demo's checkpoints tested in float32 and in another dtype
(bfloat16, int8), top-1 side by side.

    python -m tools.compare_dtypes [--work work/synth] [--runs runs] [--dtype int8] [key=value ...]

Reads the runs ``make demo`` trained (RUNS/demo/*, RUNS/demo_pseudo/*; it trains nothing) and
tests each row's checkpoint (the one the demo tested: the last whole epoch) with eval.dtype
float32 and the other dtype through ``eval_action.run``. Each evaluation writes into
RUNS/demo_dtypes/GROUP/EXPERIMENT_DTYPE/, so the demo's own results stay as they are. Writes
RUNS/demo_dtypes/dtypes.md (the table) and dtypes.json (RUNS/demo_dtypes_int8/ for int8).

int8 calibrates on each run's training clips (eval.int8_* of the config and the overrides, e.g.
``eval.int8_calibration=entropy``) and caches the thresholds and the parts kept float32 (named,
or chosen by eval.int8_auto) beside the checkpoint (engine/inference/int8.py); the table names
those parts. A head more than ``TARGET`` points from float32 is marked in the table.
"""
import argparse
import json
import logging
import os
import sys

import mxnet as mx

import eval_action
from engine.config import load_config
from common.errors import exit_on_error
from common.files import atomic_write_text
from engine.training.checkpoints import checkpoint_or_last
from engine.demo.rows import ROWS, row_config
from engine.inference import int8
from engine.inference.precision import DTYPES, check_dtype

HEADS = ("rgb", "pose", "fused")
TARGET = 1.0  # int8: every head within this many points of float32


def demo_groups(work, runs, overrides=()):
    """[(title, runs subfolder, [(row name, config)])] of the demo's two tables, with the
    overrides ``demo.py`` trained them with."""
    common = [f"data.prepared={work}/prepared", f"data.boxes={work}/boxes.json", *overrides]
    groups = []
    for title, folder, rows, poses in (
            ("ground-truth poses", "demo", ROWS, "poses"),
            ("pseudo-poses of the tiny pose model", "demo_pseudo", ROWS[2:], "pseudo_poses")):
        cfgs = [(name, load_config(*row_config(row, common + [
            f"data.poses={work}/{poses}", f"runs={os.path.join(runs, folder)}"])))
            for name, row in rows]
        groups.append((title, folder, cfgs))
    return groups


def evaluate_in(cfg, dtype, out, ctxs):
    """``eval_action.run`` of the run's checkpoint in ``dtype``, its outputs in ``out``; int8
    results gain ``float32_parts``, the parts that ran float32 (from the calibration cache)."""
    ckpt = checkpoint_or_last(cfg["out"], cfg["eval"]["checkpoint"])
    cfg = dict(cfg, out=out, eval=dict(cfg["eval"], dtype=dtype, checkpoint=ckpt))
    results = eval_action.run(cfg, ctxs)
    if dtype == "int8":
        with open(int8.cache_path(ckpt)) as f:
            results["float32_parts"] = json.load(f)["float32_chosen"]
    return results


def compare(groups, out, dtype="bfloat16", ctxs=(mx.cpu(),)):
    """Each row's top-1 in float32 and ``dtype`` -> [(title, [(name, {dtype: results})])]."""
    table = []
    for title, folder, rows in groups:
        scored = []
        for name, cfg in rows:
            results = {d: evaluate_in(cfg, d, os.path.join(out, folder,
                                                           f"{cfg['experiment']}_{d}"), list(ctxs))
                       for d in ("float32", dtype)}
            scored.append((name, results))
        table.append((title, scored))
    return table


def markdown(table, dtype="bfloat16"):
    """Top-1 % per head in float32, ``dtype`` and the difference (points), a row a model; int8
    names the parts that ran float32 and marks a head further than TARGET points from
    float32."""
    lines = []
    parts = dtype == "int8"
    for title, rows in table:
        lines += [f"| {title} | head | float32 | {dtype} | difference |" +
                  (" kept float32 |" if parts else ""),
                  "| --- | --- | ---: | ---: | ---: |" + (" --- |" if parts else "")]
        for name, results in rows:
            for head in HEADS:
                if head not in results["float32"]["top1"]:
                    continue
                a, b = (100 * results[d]["top1"][head] for d in ("float32", dtype))
                diff = difference(results, head, dtype)
                mark = (f" (over {TARGET:.1f})"
                        if parts and abs(diff) > TARGET + 1e-9 else "")
                kept = (" " + (", ".join(results[dtype].get("float32_parts", [])) or "none")
                        + " |") if parts else ""
                lines.append(f"| {name} | {head} | {a:.1f} | {b:.1f} | {diff:+.1f}{mark} |"
                             + kept)
        lines.append("")
    return "\n".join(lines)


def difference(results, head, dtype):
    """Top-1 of ``dtype`` minus float32's, in points: one computation for the rows and the
    largest difference, so a tie such as 1.25 prints alike in both."""
    return 100 * (results[dtype]["top1"][head] - results["float32"]["top1"][head])


def largest_difference(table, dtype="bfloat16"):
    """The largest |top-1 difference| in points over every row and head."""
    return max(abs(difference(r, h, dtype))
               for _, rows in table for _, r in rows for h in r["float32"]["top1"])


def write(table, out, dtype="bfloat16"):
    text = markdown(table, dtype) + (f"\nlargest difference: "
                                     f"{largest_difference(table, dtype):.1f} points\n")
    atomic_write_text(os.path.join(out, "dtypes.md"), text)
    atomic_write_text(os.path.join(out, "dtypes.json"), json.dumps(
        [dict(title=t, rows=[dict(name=n, top1={d: r[d]["top1"] for d in r},
                                  **({"float32_parts": r[dtype]["float32_parts"]}
                                     if "float32_parts" in r.get(dtype, {}) else {}))
                             for n, r in rows])
         for t, rows in table], indent=1))
    return text


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default="work/synth", help="the demo's data")
    parser.add_argument("--runs", default="runs", help="the demo's --runs")
    parser.add_argument("--dtype", default="bfloat16", choices=DTYPES[1:])
    parser.add_argument("overrides", nargs="*", help="the demo's config overrides, if any")
    return parser.parse_args(argv)


def write_skipped(out, dtype, why):
    """The table of a dtype this machine cannot run: the reason, in the table and the JSON."""
    text = f"{dtype}: skipped: {why}\n"
    os.makedirs(out, exist_ok=True)
    atomic_write_text(os.path.join(out, "dtypes.md"), text)
    atomic_write_text(os.path.join(out, "dtypes.json"),
                      json.dumps(dict(skipped={dtype: why}), indent=1))
    return text


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    with exit_on_error(logging.getLogger("compare_dtypes")):
        out = os.path.join(args.runs, "demo_dtypes" + ("_int8" if args.dtype == "int8" else ""))
        try:
            check_dtype(args.dtype, mx.cpu(), "--dtype", calibrates=True)
        except ValueError as err:
            print(write_skipped(out, args.dtype, str(err)), end="")
            return 0
        groups = demo_groups(args.work, args.runs, args.overrides)
        text = write(compare(groups, out, args.dtype), out, args.dtype)
    print(text)


if __name__ == "__main__":
    sys.exit(main())
