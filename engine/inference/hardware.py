"""What this machine can run, and what to record beside a number measured on it.

bfloat16 (``eval.dtype``, ``train.amp``) runs through oneDNN, and the oneDNN inside MXNet 1.9.1
(v2.4) has bfloat16 convolution and inner-product kernels for ``avx512_core`` CPUs only: AVX-512
Foundation with its BW, VL and DQ extensions. Where the CPU also has ``avx512_bf16`` or
``amx_bf16`` they use the native instructions, elsewhere they emulate the bfloat16 arithmetic
with AVX-512. On a CPU without AVX-512 (an AVX2-only one, say) every bfloat16 operator fails
inside MXNet with ``could not create a primitive descriptor iterator``; with oneDNN switched off
(``MXNET_MKLDNN_ENABLED=0``) MXNet has no CPU bfloat16 kernels at all. float16 runs on CUDA only.
``tests/test_hardware.py`` runs a real bfloat16 convolution on whatever CPU the suite runs on and
checks that it agrees with ``bfloat16_missing``.

The same oneDNN picks its kernels by the CPU's instruction set, so a float32 result differs in
the last bits between CPU kinds (and a trained model's accuracy by points). ``describe()`` is
what every results file records: CPU model, the instruction set oneDNN dispatches to, the MXNet
build and its thread count.
"""
import os
import platform

CPUINFO = "/proc/cpuinfo"
AVX512_CORE = ("avx512f", "avx512bw", "avx512vl", "avx512dq")
BF16_NATIVE = ("avx512_bf16", "amx_bf16")
# The instruction sets oneDNN v2.4 dispatches to, best first, with the CPU flags each needs
# (oneDNN's names, as DNNL_VERBOSE=1 reports them in words).
ISAS = (
    ("avx512_core_amx", AVX512_CORE + ("avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16",
                                       "amx_int8")),
    ("avx512_core_bf16", AVX512_CORE + ("avx512_vnni", "avx512_bf16")),
    ("avx512_core_vnni", AVX512_CORE + ("avx512_vnni",)),
    ("avx512_core", AVX512_CORE),
    ("avx2", ("avx2", "fma")),
    ("avx", ("avx",)),
    ("sse41", ("sse4_1",)),
)


def _cpuinfo_fields(path=CPUINFO):
    """The first processor's ``key: value`` lines of /proc/cpuinfo ({} where there is none)."""
    fields = {}
    try:
        with open(path) as f:
            for line in f:
                if not line.strip():
                    if fields:
                        break
                    continue
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    return fields


def cpu_flags(path=CPUINFO):
    """The CPU's feature flags as the kernel names them (``avx2``, ``avx512f`` ...)."""
    return frozenset(_cpuinfo_fields(path).get("flags", "").split())


def cpu_model(path=CPUINFO):
    return _cpuinfo_fields(path).get("model name") or platform.processor() or platform.machine()


def onednn_isa(flags):
    """The instruction set oneDNN dispatches to on a CPU with ``flags`` ('none' on no x86-64)."""
    for name, needs in ISAS:
        if all(f in flags for f in needs):
            return name
    return "none"


def onednn_enabled():
    """MXNet's CPU operators run through oneDNN (the build has it and the switch is not off)."""
    import mxnet as mx
    return (mx.runtime.Features().is_enabled("MKLDNN")
            and os.environ.get("MXNET_MKLDNN_ENABLED", "1") != "0")


def bfloat16_missing(flags=None, onednn=None):
    """Why this CPU cannot run bfloat16 in MXNet 1.9.1, in words a user can act on; None if it
    can. ``flags`` and ``onednn`` default to this machine's."""
    flags = cpu_flags() if flags is None else flags
    lacking = [f for f in AVX512_CORE if f not in flags]
    if lacking:
        return (f"bfloat16 needs a CPU with AVX-512 (oneDNN's avx512_core; this one lacks "
                f"{', '.join(lacking)})")
    if onednn is None:
        onednn = onednn_enabled()
    if not onednn:
        return ("bfloat16 runs through oneDNN, which this MXNet has off (a build without it, or "
                "MXNET_MKLDNN_ENABLED=0)")
    return None


def bfloat16_native(flags=None):
    """The CPU computes bfloat16 in hardware (else oneDNN emulates it with AVX-512)."""
    flags = cpu_flags() if flags is None else flags
    return any(f in flags for f in BF16_NATIVE)


def mxnet_threads():
    """The OpenMP threads MXNet's operators use: OMP_NUM_THREADS, else MXNet's own default of
    half the processors (it assumes two hyperthreads a core), at least one."""
    for key in ("OMP_NUM_THREADS", "MXNET_OMP_MAX_THREADS"):
        value = os.environ.get(key, "")
        if value.strip().isdigit() and int(value) > 0:
            return int(value)
    return max(1, (os.cpu_count() or 1) // 2)


def describe():
    """What a measured number depends on: {cpu, isa, bf16, mxnet, threads}."""
    import mxnet as mx
    features = mx.runtime.Features()
    build = [name for name in ("MKLDNN", "CUDA", "CUDNN") if features.is_enabled(name)]
    flags = cpu_flags()
    return {
        "cpu": cpu_model(),
        "isa": onednn_isa(flags),
        "bfloat16": ("unavailable" if bfloat16_missing(flags) else
                     "native" if bfloat16_native(flags) else "emulated"),
        "mxnet": f"{mx.__version__} ({'+'.join(build) or 'plain'})",
        "threads": mxnet_threads(),
    }


def describe_line(info=None):
    """``describe()`` as one line for logs and tables."""
    info = info or describe()
    return (f"{info['cpu']}, oneDNN ISA {info['isa']}, bfloat16 {info['bfloat16']}, "
            f"MXNet {info['mxnet']}, {info['threads']} thread(s)")
