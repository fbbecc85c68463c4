"""tools/bench_ab.py: the calls alternate A B / B A, each pair's ratio is summarised with an
interval that decides only where it excludes 1, and a side that fails is one line naming it."""
import json
import sys

import pytest

from tools import bench_ab


class Fake:
    def __init__(self, label, times):
        self.label, self.times = label, list(times)

    def call(self):
        return self.times.pop(0)


def test_calls_alternate_and_each_side_keeps_its_own_times():
    a, b = Fake("A", [1, 2, 3, 4]), Fake("B", [10, 20, 30, 40])
    a_ms, b_ms, order = bench_ab.alternate(a, b, 4)
    assert order == list("ABBAABBA")
    assert a_ms == [1, 2, 3, 4] and b_ms == [10, 20, 30, 40]


def test_paired_summary_of_a_hand_example():
    s = bench_ab.paired([100, 100, 100, 100, 100], [90, 95, 100, 105, 120])
    # ratios 0.90 0.95 1.00 1.05 1.20: median 1.00, B faster in two pairs
    assert s["ratio"] == pytest.approx(1.0) and s["b_faster"] == 2 and s["pairs"] == 5
    assert s["a_ms"] == 100 and s["b_ms"] == 100
    lo, hi = s["interval"]
    assert lo < 1.0 < hi
    assert bench_ab.paired([100] * 5, [90, 95, 100, 105, 120]) == s  # the same draws again


def test_a_steady_difference_is_decided_and_one_outlier_does_not_move_it():
    # nine pairs at 0.8 and one at 1.5: a resample's median exceeds 0.8 only if half its
    # draws hit the one outlier, far rarer than 2.5 %
    s = bench_ab.paired([100] * 10, [80] * 9 + [150])
    assert s["ratio"] == pytest.approx(0.8) and s["interval"] == pytest.approx([0.8, 0.8])
    assert bench_ab.verdict(s).startswith("B is faster")
    slower = bench_ab.paired([100] * 10, [125] * 10)
    assert slower["interval"] == pytest.approx([1.25, 1.25])
    assert bench_ab.verdict(slower).startswith("A is faster")


def test_too_few_pairs_decide_nothing():
    # nine pairs all at 0.8: the interval is [0.8, 0.8], but nine pairs are too few to read it
    s = bench_ab.paired([100] * 9, [80] * 9)
    assert s["interval"] == pytest.approx([0.8, 0.8])
    assert bench_ab.verdict(s) == "undecided (fewer than 10 pairs)"


def test_paired_refuses_unequal_or_empty_times():
    with pytest.raises(ValueError):
        bench_ab.paired([1, 2], [1])
    with pytest.raises(ValueError):
        bench_ab.paired([], [])


FAKE_SIDE = r"""
import sys
if sys.argv[1] == "dies":
    sys.stderr.write("Traceback ...\nModuleNotFoundError: No module named 'engine'\n")
    sys.exit(1)
print("a line MXNet prints while it builds", flush=True)
print("ready", flush=True)
answers = sys.argv[1].split(",")
for line in sys.stdin:
    if line.strip() != "go":
        break
    if not answers:
        sys.stderr.write("Traceback ...\nRuntimeError: out of answers\n")
        sys.exit(3)
    print("dnnl_verbose,exec,cpu,convolution,... a trace line on stdout", flush=True)
    print(answers.pop(0), flush=True)
"""


def side(label, answers):
    return bench_ab.Side(label, [sys.executable, "-c", FAKE_SIDE, answers], ".", None)


def test_a_side_that_fails_while_it_starts_is_one_line_naming_it():
    with pytest.raises(RuntimeError, match=r"^side A stopped \(exit status 1\): "
                                           r"ModuleNotFoundError: No module named 'engine'$"):
        side("A", "dies")


def test_a_side_process_answers_each_call_and_a_failure_names_the_side():
    s = side("A", "BENCH_AB 12.5,BENCH_AB 7")
    try:
        assert s.call() == 12.5 and s.call() == 7.0  # the trace lines between are passed
        with pytest.raises(RuntimeError, match=r"^side A stopped \(exit status 3\): "
                                               r"RuntimeError: out of answers$"):
            s.call()
    finally:
        s.close()
    s = side("B", "BENCH_AB not-a-number")
    try:
        with pytest.raises(RuntimeError, match="side B answered 'BENCH_AB not-a-number', not a "
                                               "time"):
            s.call()
    finally:
        s.close()


def test_environment_settings(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", "/somewhere/else")
    env = bench_ab.environment(["MXNET_ENGINE_TYPE=NaiveEngine", "X=a=b"], 3)
    assert env["MXNET_ENGINE_TYPE"] == "NaiveEngine" and env["X"] == "a=b"
    assert env["OMP_NUM_THREADS"] == "3" and "PYTHONPATH" not in env
    assert bench_ab.environment(["OMP_NUM_THREADS=1"], 3)["OMP_NUM_THREADS"] == "1"
    with pytest.raises(ValueError, match="'NaiveEngine' is not KEY=VALUE"):
        bench_ab.environment(["NaiveEngine"], 2)


def test_two_environments_of_a_tiny_model_end_to_end(tmp_path, capsys):
    out = tmp_path / "ab.json"
    bench_ab.main(["--model", "i3d_tiny", "--calls", "2", "--threads", "1", "--out", str(out),
                   "--base-name", "this-commit", "--env-b", "MXNET_ENGINE_TYPE=NaiveEngine"])
    result = json.loads(out.read_text())
    assert len(result["a"]["ms"]) == 2 and len(result["b"]["ms"]) == 2
    assert all(t > 0 for t in result["a"]["ms"] + result["b"]["ms"])
    assert result["b"]["env"] == ["MXNET_ENGINE_TYPE=NaiveEngine"] and result["threads"] == 1
    s = result["summary"]
    ratios = sorted(b / a for a, b in zip(result["a"]["ms"], result["b"]["ms"]))
    assert s["ratio"] == pytest.approx(sum(ratios) / 2)  # the median of two
    assert "1 thread(s)" in result["machine"] and result["a"]["name"] == "this-commit"
    printed = capsys.readouterr().out
    assert "A: this-commit" in printed and "undecided (fewer than 10 pairs)" in printed


def test_a_base_that_is_not_a_checkout_is_one_line(tmp_path):
    with pytest.raises(SystemExit, match=r"^error: --base .*: no tools/bench_speed.py there"):
        bench_ab.main(["--base", str(tmp_path), "--out", str(tmp_path / "ab.json")])
