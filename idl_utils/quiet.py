"""Keep TensorFlow's start-up chatter out of the notebooks and of ``make reproduce``'s output.

TensorFlow's C++ core writes straight to file descriptor 2, past Python: a oneDNN banner at
import, absl's "All log messages before absl::InitializeLog() ..." notice, oneDNN's note that
it falls back for int32 on CPUs without AVX-512, a
``NodeDef mentions attribute use_unbounded_threadpool`` line (logged as an *error*) whenever a
``tf.data`` pipeline starts, and a Google-auth-token notice when tensorflow-datasets looks for
cloud storage offline. None of these is a problem with the run, and ``TF_CPP_MIN_LOG_LEVEL``
cannot silence them all: absl prints the first two before it reads the level, and level 3,
which would hide the NodeDef line, hides every real C++ error too.

So the kit filters by line: :func:`quiet_native_logs` (called when ``idl_utils`` is imported,
before anything imports TensorFlow) sets ``TF_CPP_MIN_LOG_LEVEL=2`` (errors still show) and,
inside a Jupyter kernel, routes descriptor 2 through a thread that drops exactly the lines
:data:`NOISE` matches and passes everything else on at once. In a kernel this changes nothing
else: ipykernel already reads descriptor 2 through a pipe and a thread of its own. Set
``IDL_NATIVE_LOGS=all`` to see every line. One Python warning of TensorFlow's goes too
(:class:`RetracingFilter`).
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import select
import sys
import threading

NATIVE_LOGS_ENV = "IDL_NATIVE_LOGS"

#: Lines of harmless native log output, dropped by :func:`filter_native_stderr`.
NOISE = tuple(re.compile(p) for p in (
    r"^WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR$",
    r"^[IWE]\d{4} [\d:. ]+\d+ port\.cc:\d+\] oneDNN custom operations are on\.",
    r"^[IWE]\d{4} [\d:. ]+\d+ node_def_util\.cc:\d+\] NodeDef mentions attribute use_unbounded_threadpool ",
    r"^[IWE]\d{4} [\d:. ]+\d+ util\.cc:\d+\] oneDNN supports DT_INT32 only on platforms with AVX-512\.",
    r"^[IWE]\d{4} [\d:. ]+\d+ (cpu_feature_guard|cpu_utils)\.cc:\d+\] This TensorFlow binary is optimized",
    r"^To enable the following instructions: .* rebuild TensorFlow with the appropriate compiler flags\.$",
    r"^[IWE]\d{4} [\d:. ]+\d+ google_auth_provider\.cc:\d+\] All attempts to get a Google authentication",
))

_installed = False


def is_noise(line: str) -> bool:
    """True for a line of :data:`NOISE` (without its line break)."""
    line = line.rstrip("\r\n")
    return any(p.search(line) for p in NOISE)


def _forward(source: int, target: int, idle_seconds: float = 0.2) -> None:
    """Copy ``source`` to ``target`` line by line, leaving out noise. A partial line (a prompt
    without a line break) is passed on after ``idle_seconds`` of quiet; ends at end of file."""
    pending = b""
    while True:
        ready, _, _ = select.select([source], [], [], idle_seconds if pending else None)
        if not ready:  # quiet for a while: pass on the partial line
            os.write(target, pending)
            pending = b""
            continue
        chunk = os.read(source, 65536)
        if not chunk:
            break
        pending += chunk
        *lines, pending = pending.split(b"\n")
        kept = [line + b"\n" for line in lines if not is_noise(line.decode("utf-8", "replace"))]
        if kept:
            os.write(target, b"".join(kept))
    if pending and not is_noise(pending.decode("utf-8", "replace")):
        os.write(target, pending)
    os.close(source)


def filter_native_stderr() -> bool:
    """Route this process's file descriptor 2 through a filter that drops :data:`NOISE` lines.
    Returns True when the filter is in place (once per process; later calls do nothing)."""
    global _installed
    if _installed:
        return True
    try:
        target = os.dup(2)
        read_end, write_end = os.pipe()
        os.dup2(write_end, 2)
        os.close(write_end)
    except OSError:
        return False
    thread = threading.Thread(target=_forward, args=(read_end, target), name="idl-native-stderr", daemon=True)
    thread.start()

    def _restore() -> None:  # at exit: give descriptor 2 back, let the filter pass on what is left
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        os.dup2(target, 2)
        thread.join(timeout=2)

    atexit.register(_restore)
    _installed = True
    return True


class RetracingFilter(logging.Filter):
    """Drops TensorFlow's Python warning "N out of the last M calls to <function ...> triggered
    tf.function retracing": the notebooks call ``predict`` on several models and data shapes in
    turn, which retraces by design; the warning's advice (about functions defined in loops)
    does not apply, and six lines of it in a student's notebook teach nothing."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "triggered tf.function retracing" not in record.getMessage()


def quiet_native_logs() -> None:
    """The kit's one place for log settings; runs on ``import idl_utils``, before TensorFlow is
    imported. Environment variables set by the user win."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # hide C++ INFO and WARNING; errors show
    if os.environ.get(NATIVE_LOGS_ENV, "").lower() == "all":
        return
    tf_logger = logging.getLogger("tensorflow")  # the logger tf.get_logger() returns, made now
    if not any(isinstance(f, RetracingFilter) for f in tf_logger.filters):
        tf_logger.addFilter(RetracingFilter())
    if "ipykernel" in sys.modules:
        filter_native_stderr()
