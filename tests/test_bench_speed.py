"""tools/bench_speed.py: a variant MXNet fails to run is a row that says so, and the others are
still timed."""
import json

import mxnet as mx

from tools import bench_speed


def test_a_variant_that_fails_is_recorded_and_the_others_are_timed(monkeypatch, capsys):
    calls = {"plain": 0, "int8": 0}

    def built(name, variant, x, for_inference):
        def run(x):
            calls[variant] += 1
            if variant == "int8" and calls[variant] > 1:
                raise mx.base.MXNetError("Traceback (most recent call last):\n  File x\n"
                                         "MXNetError: Check failed: the memory desc")
            return (x * 2,)
        return run

    monkeypatch.setattr(bench_speed, "built", built)
    monkeypatch.setattr(bench_speed, "input_shape", lambda name: (3, 4))
    bench_speed.child(dict(runs=[("net", 1, ["plain", "int8"])], repeats=3))
    line = [l for l in capsys.readouterr().out.splitlines() if l.startswith("BENCH ")][-1]
    rows = {r["variant"]: r for r in json.loads(line[len("BENCH "):])["rows"]}
    assert rows["int8"]["skipped"] == "failed: MXNetError: Check failed: the memory desc"
    assert "seconds" not in rows["int8"] and rows["plain"]["seconds"] > 0
    assert calls == {"plain": 3, "int8": 2}  # int8 dropped after its failure


def test_a_variant_that_fails_while_it_is_built_is_recorded(monkeypatch, capsys):
    # int8 turns a graph oneDNN cannot run into a one-line RuntimeError on its first call,
    # which is inside ``built`` (the warm-up)
    def built(name, variant, x, for_inference):
        if variant == "int8":
            raise RuntimeError("int8 with this network fails in MXNet 1.9.1's oneDNN (x)")
        return lambda x: (x * 2,)

    monkeypatch.setattr(bench_speed, "built", built)
    monkeypatch.setattr(bench_speed, "input_shape", lambda name: (3, 4))
    bench_speed.child(dict(runs=[("net", 1, ["plain", "int8"])], repeats=2))
    line = [l for l in capsys.readouterr().out.splitlines() if l.startswith("BENCH ")][-1]
    rows = {r["variant"]: r for r in json.loads(line[len("BENCH "):])["rows"]}
    assert rows["int8"]["skipped"] == "int8 with this network fails in MXNet 1.9.1's oneDNN (x)"
    assert rows["plain"]["seconds"] > 0
