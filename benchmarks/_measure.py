"""Run one benchmark job in a fresh child process and collect its wall time and memory.

A fresh process per job makes peak RSS mean "what this job needed": nothing allocated by
an earlier job, or by the parent, is counted. The protocol has two halves:

* in the child, after the imports and any setup the job needs, call :func:`ready`; time
  only the job itself; then call :func:`report` with the wall time (and any extra facts,
  such as row counts, for the parent to print or check);
* in the parent, :func:`run_child` starts the child, waits for it and returns a
  :class:`Measurement` built from the one result line the child printed.

Example (both halves in one script)::

    if args.child:
        import pandas as pd            # imports are not timed ...
        start = ready()                # ... but the RSS after them is reported
        frame = pd.read_csv(path)
        report(time.perf_counter() - start, rows=len(frame))
    else:
        m = run_child([sys.executable, __file__, "--child"], unset_env=["MY_SERVICE_URL"])
        print(m.wall_s, m.peak_rss_mib, m.ready_rss_mib)

Peak RSS is ``getrusage(RUSAGE_SELF).ru_maxrss`` of the child (KiB on Linux, bytes on
macOS), reported raw: it includes the interpreter and every imported module, which is
why the RSS at :func:`ready` is reported beside it.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = [
    "DATA_DIR",
    "ISOLATING_ENV",
    "PYCACHE_DIR",
    "RESULT_PREFIX",
    "ChildFailed",
    "InstallFailed",
    "Measurement",
    "Summary",
    "anchor_python",
    "current_rss_mib",
    "install_venv",
    "peak_rss_mib",
    "ready",
    "report",
    "run_child",
    "summarize",
]

DATA_DIR = Path(__file__).resolve().parent / ".data"
"""Generated inputs, kept so that later runs with the same parameters reuse them."""
PYCACHE_DIR = DATA_DIR / "pycache"
"""The children's compiled bytecode, as an installed environment has it (``pycache_dir``)."""
ISOLATING_ENV = ("FORGEML_DB_URL", "FORGEML_ARTIFACTS_URL", "FORGEML_PROJECT")
"""forgeml's settings a child must not inherit: each job makes and uses its own project."""

RESULT_PREFIX = "@@measurement "
"""Marks the child's result line on stdout; every other output line is passed through."""

_MIB = 1024 * 1024
_ready_rss: float | None = None
_ready_cpu: float | None = None


class ChildFailed(RuntimeError):
    """The child exited with an error, or without printing a result line."""


@dataclass(frozen=True)
class Measurement:
    """One job's figures, as reported by its child process."""

    wall_s: float
    """Seconds between :func:`ready` and :func:`report` (the job only)."""
    cpu_s: float
    """CPU seconds (user + system, all threads) the child spent in the same interval."""
    peak_rss_mib: float
    """Peak resident memory of the whole child process, raw."""
    ready_rss_mib: float
    """Resident memory when the job started (interpreter + imports + setup)."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Whatever else the child passed to :func:`report`."""


@dataclass(frozen=True)
class Summary:
    """Repeated measurements of one job: median time, worst-case memory."""

    runs: int
    wall_s_median: float
    wall_s_min: float
    wall_s_max: float
    cpu_s_median: float
    peak_rss_mib_max: float
    ready_rss_mib_max: float


# -- child side ---------------------------------------------------------------------------


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far, in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / _MIB if sys.platform == "darwin" else peak / 1024


def current_rss_mib() -> float:
    """Resident set size of this process now, in MiB (the peak where /proc is missing)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            pages = int(f.read().split()[1])
    except (OSError, IndexError, ValueError):
        return peak_rss_mib()
    return pages * os.sysconf("SC_PAGE_SIZE") / _MIB


def _cpu_s() -> float:
    times = os.times()
    return times.user + times.system


def ready() -> float:
    """Record RSS and CPU time before the job; returns ``time.perf_counter()`` to time from."""
    global _ready_rss, _ready_cpu
    _ready_rss = current_rss_mib()
    _ready_cpu = _cpu_s()
    return time.perf_counter()


def report(wall_s: float, **extra: Any) -> None:
    """Print this child's result line (call once, right after the timed job)."""
    peak = peak_rss_mib()
    line = {
        "wall_s": wall_s,
        "cpu_s": _cpu_s() - (_ready_cpu or 0.0),
        "peak_rss_mib": peak,
        "ready_rss_mib": _ready_rss if _ready_rss is not None else peak,
        "extra": extra,
    }
    sys.stdout.write(RESULT_PREFIX + json.dumps(line, default=str) + "\n")
    sys.stdout.flush()


# -- parent side --------------------------------------------------------------------------


def run_child(
    argv: Sequence[str],
    *,
    unset_env: Iterable[str] = (),
    set_env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    timeout_s: float | None = None,
    pycache_dir: str | os.PathLike[str] | None = None,
) -> Measurement:
    """Run ``argv`` as a fresh process and return the :class:`Measurement` it reported.

    The child inherits this environment minus ``unset_env``, plus ``set_env``. With
    ``pycache_dir`` the child reads and writes compiled bytecode there (as an installed
    environment has it), even where ``PYTHONDONTWRITEBYTECODE`` is set: otherwise every
    import, including one made lazily inside a timed job, recompiles its source. Its
    stderr and non-result stdout lines are echoed to this process's stderr; on failure
    :class:`ChildFailed` carries the tail of its stderr instead.
    """
    env = {k: v for k, v in os.environ.items() if k not in set(unset_env)}
    env.update(set_env or {})
    if pycache_dir is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = os.fspath(pycache_dir)
    done = subprocess.run(
        list(argv),
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    result: dict[str, Any] | None = None
    for text in done.stdout.splitlines():
        if text.startswith(RESULT_PREFIX):
            result = json.loads(text[len(RESULT_PREFIX) :])
        elif text.strip():
            print(text, file=sys.stderr)
    if done.returncode != 0 or result is None:
        tail = "\n".join(done.stderr.strip().splitlines()[-30:])
        why = f"exit status {done.returncode}" if done.returncode else "no result line"
        raise ChildFailed(f"{' '.join(argv)}: {why}\n{tail}")
    if done.stderr.strip():
        print(done.stderr.rstrip(), file=sys.stderr)
    return Measurement(
        wall_s=float(result["wall_s"]),
        cpu_s=float(result["cpu_s"]),
        peak_rss_mib=float(result["peak_rss_mib"]),
        ready_rss_mib=float(result["ready_rss_mib"]),
        extra=dict(result.get("extra") or {}),
    )


def summarize(measurements: Sequence[Measurement]) -> Summary:
    """Median wall time and maximum memory over repeated runs of one job."""
    if not measurements:
        raise ValueError("no measurements to summarize")
    walls = [m.wall_s for m in measurements]
    return Summary(
        runs=len(measurements),
        wall_s_median=statistics.median(walls),
        wall_s_min=min(walls),
        wall_s_max=max(walls),
        cpu_s_median=statistics.median(m.cpu_s for m in measurements),
        peak_rss_mib_max=max(m.peak_rss_mib for m in measurements),
        ready_rss_mib_max=max(m.ready_rss_mib for m in measurements),
    )


def installed_versions(*packages: str) -> str:
    """``name version`` for each installed package, comma separated."""
    return ", ".join(f"{name} {metadata.version(name)}" for name in packages)


def machine_facts(packages: str) -> list[str]:
    """Lines describing the machine, Python and the given ``packages`` line."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return [
        f"machine  : {platform.system()} {platform.machine()}, cpu_count={os.cpu_count()}"
        + (f" (usable {usable})" if usable is not None else ""),
        f"python   : {platform.python_implementation()} {platform.python_version()}",
        f"packages : {packages}",
    ]


def load_average() -> str:
    """The 1-minute load average (other work on the machine inflates wall times)."""
    return f"{os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else "n/a"


def venv_versions(python: Path, *packages: str) -> str | None:
    """The version of each package in ``python``'s environment (comma separated), or None."""
    if not python.exists():
        return None
    code = (
        "import importlib.metadata as m, sys\nprint(', '.join(m.version(p) for p in sys.argv[1:]))"
    )
    done = subprocess.run(
        [str(python), "-c", code, *packages], capture_output=True, text=True, check=False
    )
    return done.stdout.strip() if done.returncode == 0 else None


class InstallFailed(RuntimeError):
    """A virtual environment could not be made, or its packages installed."""


def install_venv(venv: Path, packages: Sequence[str], *, timeout_s: float | None = None) -> Path:
    """Make the virtual environment ``venv`` (when it is missing) and install ``packages``
    into it; its interpreter.

    uv installs when it is available (with pip seeded into the environment), else the venv
    module and pip. :class:`InstallFailed` carries the installer's last lines.
    """
    python = venv / "bin" / "python"
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    steps: list[list[str]] = []
    if uv:
        if not python.exists():
            steps.append([uv, "venv", "--quiet", "--seed", "--python", sys.executable, str(venv)])
        # compiled at install: an environment that never writes bytecode would otherwise
        # compile every module again in each process that imports it
        install = [uv, "pip", "install", "--quiet", "--compile-bytecode", "--python"]
        steps.append([*install, str(python), *packages])
    else:
        if not python.exists():
            steps.append([sys.executable, "-m", "venv", str(venv)])
        pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        steps.append([*pip, *packages])
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}  # not this venv's
    for command in steps:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout_s, env=env, check=False
        )
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            raise InstallFailed(f"cannot install {' '.join(packages)} into {venv}: {tail}")
    return python


def anchor_python(venv: Path, packages: Sequence[str], wanted: dict[str, str]) -> Path:
    """An anchor's own environment at ``venv``, with ``packages`` installed; its interpreter.

    ``wanted`` maps package names to the versions that make the environment current (it
    is left alone then); otherwise :func:`install_venv` makes it.
    """
    python = venv / "bin" / "python"
    if venv_versions(python, *wanted) == ", ".join(wanted.values()):
        return python
    print(f"installing {' '.join(packages)} into {venv} ...", file=sys.stderr)
    return install_venv(venv, packages)
