import os
import subprocess
import sys

import pytest

from idl_utils.quiet import NATIVE_LOGS_ENV, is_noise

# real lines from executed notebooks and from `python -c "import tensorflow"` (TF 2.21)
NOISE_LINES = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "I0000 00:00:1796076985.525484   25209 port.cc:153] oneDNN custom operations are on. You may see "
    "slightly different numerical results due to floating-point round-off errors from different "
    "computation orders. "
    "To turn them off, set the environment variable `TF_ENABLE_ONEDNN_OPTS=0`.",
    "E0000 00:00:1795461232.356927    8898 node_def_util.cc:682] NodeDef mentions attribute "
    "use_unbounded_threadpool which is not in the op definition: Op<name=MapDataset; signature=...>",
    "I0000 00:00:1796076986.293665   25209 cpu_feature_guard.cc:227] This TensorFlow binary is optimized "
    "to use available CPU instructions in performance-critical operations.",
    "To enable the following instructions: AVX2 AVX512F FMA, in other operations, rebuild TensorFlow "
    "with the appropriate compiler flags.",
    "E0000 00:00:1796078284.263741   19001 util.cc:131] oneDNN supports DT_INT32 only on platforms with "
    "AVX-512. Falling back to the default Eigen-based implementation if present.",
    "W0000 00:00:1796076986.293665   25209 google_auth_provider.cc:184] All attempts to get a Google "
    "authentication bearer token failed, returning an empty token.",
]
REAL_LINES = [
    "E0000 00:00:1795461232.356927    8898 op_kernel.cc:1840] OP_REQUIRES failed at conv_ops.cc:123 : "
    "RESOURCE_EXHAUSTED: OOM when allocating tensor",
    "F0000 00:00:1795461232.356927    8898 check_op.cc:12] Check failed: dims == 4",
    "Traceback (most recent call last):",
    "WARNING: something else happened",
    "Segmentation fault (core dumped)",
]


@pytest.mark.parametrize("line", NOISE_LINES)
def test_known_chatter_is_noise(line):
    assert is_noise(line) and is_noise(line + "\n")


@pytest.mark.parametrize("line", REAL_LINES)
def test_real_errors_are_not_noise(line):
    assert not is_noise(line)


def test_the_filter_drops_noise_and_passes_everything_else_in_order():
    noise = "".join(line + "\n" for line in NOISE_LINES)
    code = (
        "import os, time\n"
        "from idl_utils.quiet import filter_native_stderr\n"
        "assert filter_native_stderr() and filter_native_stderr()\n"
        f"os.write(2, {noise.encode()!r} + b'first real line\\n' + {NOISE_LINES[2].encode()!r})\n"
        f"os.write(2, b'\\nsecond real line\\n')\n"
        "os.write(2, b'a prompt without a line break')\n"
        "time.sleep(0.5)\n"
        "os.write(1, b'stdout untouched\\n')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "first real line\nsecond real line\na prompt without a line break"
    assert done.stdout == "stdout untouched\n"


def _kernel_output(env_extra: dict[str, str], code: str) -> str:
    from jupyter_client.manager import start_new_kernel

    # ipykernel sends descriptor 2 to the notebook except under pytest: look like a real kernel
    env = {k: v for k, v in {**os.environ, **env_extra}.items() if k != "PYTEST_CURRENT_TEST"}
    km, kc = start_new_kernel(kernel_name="python3", env=env)
    out = []
    try:
        reply = kc.execute_interactive(code, timeout=240, output_hook=lambda msg: out.append(
            msg["content"].get("text", "") if msg["msg_type"] == "stream" else ""))
        assert reply["content"]["status"] == "ok", reply["content"]
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    return "".join(out)


@pytest.mark.slow
def test_in_a_kernel_tensorflow_chatter_is_gone_and_real_output_stays():
    pytest.importorskip("jupyter_client")
    code = ("import idl_utils, os, time\nimport tensorflow as tf\n"
            "os.write(2, b'a real native error\\n')\ntime.sleep(1)\n")
    # oneDNN on: TensorFlow turns it on (and prints its banner) by itself only on CPUs with
    # AVX-512/AMX; on an AVX2-only CPU it is off and silent, and this test would prove nothing
    onednn = {"TF_ENABLE_ONEDNN_OPTS": "1"}
    quiet = _kernel_output({**onednn, NATIVE_LOGS_ENV: ""}, code)
    everything = _kernel_output({**onednn, NATIVE_LOGS_ENV: "all"}, code)
    assert "a real native error" in quiet and "a real native error" in everything
    assert "oneDNN custom operations" in everything, "TensorFlow said nothing: this test would prove nothing"
    assert "oneDNN custom operations" not in quiet and "absl::InitializeLog" not in quiet


def test_tensorflow_retracing_warnings_are_dropped_and_other_warnings_kept(caplog):
    import logging

    import idl_utils  # noqa: F401  (importing the kit installs the filter)
    from idl_utils.quiet import quiet_native_logs

    quiet_native_logs()  # a second call must not stack a second filter
    logger = logging.getLogger("tensorflow")
    assert sum(type(f).__name__ == "RetracingFilter" for f in logger.filters) == 1
    with caplog.at_level(logging.WARNING, logger="tensorflow"):
        logger.warning("5 out of the last 45 calls to <function f at 0x1> triggered tf.function "
                       "retracing. Tracing is expensive ...")
        logger.warning("a real warning about your model")
    assert [r.getMessage() for r in caplog.records] == ["a real warning about your model"]
