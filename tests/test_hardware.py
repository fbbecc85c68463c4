"""hardware.py: which CPUs run bfloat16 (faked flag sets, so every rule is covered on any CPU,
and a real bfloat16 convolution on this CPU agreeing with the rule), and the one-line refusals
of every entry point that takes a dtype or train.amp."""
import json
import os
import subprocess
import sys

import mxnet as mx
import pytest

import eval_action
import train_action
from engine.config import config_path
from engine.inference import hardware, precision
from helpers import config, overrides
from tools import bench_precision, compare_dtypes

ZEN3 = frozenset("fpu sse sse2 ssse3 sse4_1 sse4_2 avx avx2 fma f16c bmi2 sha_ni vaes".split())
SKYLAKE_X = ZEN3 | {"avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd"}
CASCADE_LAKE = SKYLAKE_X | {"avx512_vnni"}
COOPER_LAKE = CASCADE_LAKE | {"avx512_bf16"}
SAPPHIRE_RAPIDS = COOPER_LAKE | {"amx_tile", "amx_bf16", "amx_int8"}
ZEN4 = SKYLAKE_X | {"avx512_vnni", "avx512_bf16"}


@pytest.mark.parametrize("flags, isa, missing, native", [
    (ZEN3, "avx2", "avx512f, avx512bw, avx512vl, avx512dq", False),
    (ZEN3 - {"avx2"}, "avx", "avx512f", False),
    (SKYLAKE_X - {"avx512bw"}, "avx2", "lacks avx512bw)", False),
    (SKYLAKE_X, "avx512_core", None, False),
    (CASCADE_LAKE, "avx512_core_vnni", None, False),
    (COOPER_LAKE, "avx512_core_bf16", None, True),
    (ZEN4, "avx512_core_bf16", None, True),
    (SAPPHIRE_RAPIDS, "avx512_core_amx", None, True),
    (frozenset(), "none", "avx512f", False),
])
def test_the_rule_on_known_cpus(flags, isa, missing, native):
    assert hardware.onednn_isa(flags) == isa
    why = hardware.bfloat16_missing(flags, onednn=True)
    if missing is None:
        assert why is None
    else:
        assert "needs a CPU with AVX-512" in why and missing in why
    assert hardware.bfloat16_native(flags) is native


def test_an_avx512_cpu_without_onednn_is_refused_with_the_reason():
    assert "oneDNN" in hardware.bfloat16_missing(SAPPHIRE_RAPIDS, onednn=False)


def test_cpuinfo_is_read_from_the_first_processor(tmp_path):
    path = tmp_path / "cpuinfo"
    path.write_text("processor\t: 0\nmodel name\t: AMD EPYC 7B13\nflags\t\t: fpu avx2 fma\n\n"
                    "processor\t: 1\nmodel name\t: other\nflags\t\t: avx512f\n")
    assert hardware.cpu_flags(str(path)) == {"fpu", "avx2", "fma"}
    assert hardware.cpu_model(str(path)) == "AMD EPYC 7B13"
    assert hardware.cpu_flags(str(tmp_path / "missing")) == frozenset()


def test_thread_count_follows_omp_num_threads(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert hardware.mxnet_threads() == 3
    monkeypatch.delenv("OMP_NUM_THREADS")
    monkeypatch.delenv("MXNET_OMP_MAX_THREADS", raising=False)
    assert hardware.mxnet_threads() == max(1, os.cpu_count() // 2)


def test_describe_names_cpu_isa_build_and_threads():
    info = hardware.describe()
    assert info["cpu"] and info["isa"] == hardware.onednn_isa(hardware.cpu_flags())
    assert info["mxnet"].startswith(mx.__version__) and info["threads"] >= 1
    assert info["bfloat16"] in ("unavailable", "native", "emulated")
    assert info["isa"] in hardware.describe_line(info)


PROBE = """
import mxnet as mx, numpy as np
bf16 = np.dtype([("bfloat16", np.uint16)])
x = mx.nd.amp_cast(mx.nd.ones((1, 4, 6, 6)), dtype=bf16)
w = mx.nd.amp_cast(mx.nd.ones((4, 4, 3, 3)), dtype=bf16)
try:
    y = mx.nd.Convolution(x, w, kernel=(3, 3), num_filter=4, no_bias=True)
    print(float(mx.nd.amp_cast(y, dtype="float32").asnumpy()[0, 0, 0, 0]))
except Exception as err:
    print("failed:", str(err).strip().splitlines()[-1])
"""


def test_the_rule_agrees_with_a_real_bfloat16_convolution_on_this_cpu():
    """A fresh process (a failed oneDNN operator must not touch this one's engine)."""
    proc = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                          timeout=120, env=dict(os.environ, OMP_NUM_THREADS="1"))
    ran = proc.stdout.strip() == "36.0"  # 4 channels x 3 x 3 ones
    assert ran == (hardware.bfloat16_missing() is None), (proc.stdout, proc.stderr[-500:])


@pytest.fixture
def avx2_only(monkeypatch):
    monkeypatch.setattr(hardware, "cpu_flags", lambda path=None: ZEN3)
    monkeypatch.setattr(hardware, "cpu_model", lambda path=None: "AMD EPYC 7B13")


def test_eval_with_bfloat16_on_an_avx2_cpu_is_one_line(avx2_only, capsys):
    with pytest.raises(SystemExit) as err:
        eval_action.main(["--config", config_path("synth_xview3_kps"),
                          "--dtype", "bfloat16"])
    line = str(err.value)
    assert line.startswith("error: eval.dtype=bfloat16 cannot run on this CPU (AMD EPYC 7B13)")
    assert "avx512f" in line and "use float32" in line and "\n" not in line


def test_train_amp_bfloat16_on_an_avx2_cpu_is_refused_before_any_work(avx2_only, tmp_path):
    out = str(tmp_path / "run")
    argv = ["--config", config("kps")] + overrides("/nonexistent", out, "train.amp=bfloat16")
    with pytest.raises(SystemExit, match=r"^error: train.amp=bfloat16 cannot run on this CPU "
                                         r"[^\n]*avx512f[^\n]*$"):
        train_action.main(argv)
    assert not os.path.exists(out)


def test_the_bench_and_demo_bf16_skip_bfloat16_with_the_reason(avx2_only, tmp_path):
    kept, skipped = bench_precision.runnable(("float32", "bfloat16"), mx.cpu())
    assert kept == ("float32",) and "avx512f" in skipped["bfloat16"]
    assert "| precision bfloat16 | skipped |" in bench_precision.markdown_precision(
        dict(ceiling=[dict(what="numpy SGEMM", dtype="float32", n=8, gflops=1.0)], models=[],
             views=[], skipped=skipped))[0]
    assert compare_dtypes.main(["--runs", str(tmp_path), "--work", "/nonexistent"]) == 0
    with open(tmp_path / "demo_dtypes" / "dtypes.json") as f:
        assert "avx512f" in json.load(f)["skipped"]["bfloat16"]


def test_float16_is_refused_on_a_cpu_whatever_its_flags(monkeypatch):
    monkeypatch.setattr(hardware, "cpu_flags", lambda path=None: SAPPHIRE_RAPIDS)
    with pytest.raises(ValueError, match="float16 needs a GPU"):
        precision.check_dtype("float16", mx.cpu())
