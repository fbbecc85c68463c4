"""Run an exported model in onnxruntime and compare its outputs with MXNet's (export_onnx.py).

    .venv-onnx/bin/python -m tools.check_onnx DIR [--atol 1e-4]      (make onnx runs it)

Reads DIR/model.onnx and DIR/reference.npz (the clips and MXNet's outputs, by output name);
prints the largest absolute difference of each output and overall, and exits with one line,
status 1, when one exceeds --atol. It runs in the small .venv-onnx (onnxruntime, numpy, onnx),
not in .venv: onnxruntime's Python 3.11 wheels need numpy >= 1.24.2 and MXNet 1.9.1 needs
numpy < 1.24, so the two files are the only interface between the environments. It imports
nothing of this repository for the same reason.
"""
import argparse
import os
import sys
import time

import numpy as np


def compare(session, reference):
    """-> ({output: max abs difference}, seconds per clip)."""
    clips = reference["clips"]
    names = [o.name for o in session.get_outputs()]
    missing = [n for n in names if n not in reference]
    if missing:
        raise ValueError(f"reference.npz has no {missing[0]!r}; it holds {sorted(reference)}")
    session.run(names, {"clips": clips[:1]})  # first call: allocation, not timed
    start = time.perf_counter()
    outputs = session.run(names, {"clips": clips})
    seconds = (time.perf_counter() - start) / len(clips)
    diffs = {}
    for name, value in zip(names, outputs):
        if value.shape != reference[name].shape:
            raise ValueError(f"output {name!r} has shape {value.shape}, MXNet's "
                             f"{reference[name].shape}")
        diffs[name] = float(np.abs(value.astype(np.float64) - reference[name]).max())
    return diffs, seconds


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", help="export_onnx.py's output folder")
    parser.add_argument("--atol", type=float, default=1e-4,
                        help="largest absolute difference allowed (default 1e-4, fp32)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        import onnxruntime as ort
    except ImportError:
        sys.exit("error: onnxruntime is not installed here: run me with .venv-onnx/bin/python "
                 "(make onnx creates it)")
    model, npz = (os.path.join(args.dir, f) for f in ("model.onnx", "reference.npz"))
    try:
        with np.load(npz) as z:
            reference = {k: z[k] for k in z.files}
        options = ort.SessionOptions()
        options.log_severity_level = 3  # warnings about the graph are not results
        session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        diffs, seconds = compare(session, reference)
    except (OSError, ValueError, RuntimeError) as err:
        sys.exit(f"error: {' '.join(str(err).split()) or type(err).__name__}")
    for name, diff in diffs.items():
        print(f"{name:10s} max abs difference {diff:.3g}")
    worst = max(diffs.values())
    print(f"onnxruntime {ort.__version__}: {len(reference['clips'])} clips of "
          f"{tuple(reference['clips'].shape[1:])}, {1000 * seconds:.0f} ms a clip; max abs "
          f"difference {worst:.3g} (tolerance {args.atol:g}); {os.path.getsize(model) / 2**20:.1f} "
          f"MB")
    if worst > args.atol:
        sys.exit(f"error: {max(diffs, key=diffs.get)} differs from MXNet by {worst:.3g} > "
                 f"{args.atol:g}")
    return diffs


if __name__ == "__main__":
    main()
