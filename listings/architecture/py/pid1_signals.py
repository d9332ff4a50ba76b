"""2.8 Containers: the PID 1 signal problem, for real, without Docker.

`unshare --pid --fork --mount-proc CMD` runs CMD as PID 1 of a new PID
namespace, which is what a container's first process is. From outside,
this program sends that PID 1 SIGTERM, as `docker stop` and the kubelet
do, waits a short grace period (0.5 s here, 10 s for `docker stop`, 30 s
by default in Kubernetes), then sends SIGKILL if the process is still
there. The app (this file run with `app`) prints when it gets SIGTERM;
`init` is a minimal init in the manner of tini (not installed here).

Run it with `python3 listings/architecture/py/pid1_signals.py` (as root:
creating a PID namespace needs CAP_SYS_ADMIN). Without `unshare`, or
without the permission, it exits 77 and says why.
"""

import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

APP = Path(__file__).resolve()
# Seconds between SIGTERM and SIGKILL (docker stop: 10 s). Long enough for
# an app that handles SIGTERM to exit on a loaded machine: with 0.5 s it
# was sometimes killed before its handler ran.
GRACE = 2.0
EXIT_SKIP = 77


# ANCHOR: app
def on_sigterm(signum: int, frame: FrameType | None) -> None:
    print("app: got SIGTERM, shutting down", flush=True)
    sys.exit(0)  # raises SystemExit in the main thread: finally runs


def app(handle_sigterm: bool) -> None:
    if handle_sigterm:
        signal.signal(signal.SIGTERM, on_sigterm)
    # CPython installs no SIGTERM handler of its own (only SIGINT's).
    print(f"app: ready, pid {os.getpid()}", flush=True)
    while True:
        time.sleep(1)


# ANCHOR_END: app


# ANCHOR: init
def init(argv: list[str]) -> None:
    """What tini or `docker run --init` does, in short: run the app as a
    child, pass SIGTERM and SIGINT on to it, reap every child that exits
    (orphans are re-parented to PID 1), exit with the app's status."""
    child = subprocess.Popen(argv)

    def forward(signum: int, frame: FrameType | None) -> None:
        child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    while True:
        pid, status = os.wait()  # any child: zombies do not pile up
        if pid == child.pid:
            code = os.waitstatus_to_exitcode(status)
            sys.exit(128 - code if code < 0 else code)  # 143 = SIGTERM


# ANCHOR_END: init


@dataclass(frozen=True)
class Outcome:
    app_pid: int  # the app's pid as the app sees it
    as_pid1: bool  # started as PID 1 of a new PID namespace
    saw_sigterm: bool  # the app's handler ran
    needed_sigkill: bool  # still alive GRACE seconds after SIGTERM
    # Of the command we started (negative: a signal). unshare passes on
    # its child's status, except SIGKILL's: it then exits 1.
    returncode: int
    seconds_after_sigterm: float  # until the command we started exited


def python_app(handle_sigterm: bool) -> list[str]:
    flag = ["--handle-sigterm"] if handle_sigterm else []
    return [sys.executable, str(APP), "app", *flag]


def read_line(proc: "subprocess.Popen[str]", timeout: float) -> str:
    """The next line of the child's stdout, or "" after `timeout`."""
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    return proc.stdout.readline() if ready else ""


def wait_ready(proc: "subprocess.Popen[str]") -> str:
    """The app's "ready" line (a shell may print something first)."""
    for _ in range(5):
        line = read_line(proc, timeout=5)
        if line.startswith("app: ready, pid "):
            return line
        if not line:
            break
    raise RuntimeError("the app did not say it was ready")


def namespace_init(unshare_pid: int) -> int:
    """The pid (as we see it) of the child that unshare forked: PID 1."""
    children = Path(f"/proc/{unshare_pid}/task/{unshare_pid}/children")
    return int(children.read_text().split()[0])


# ANCHOR: stop
def stop(argv: list[str], as_pid1: bool = True) -> Outcome:
    """Starts `argv` (as PID 1 of a new PID namespace, or as a plain
    child), waits for the app to be ready, then stops it the way a
    container runtime does: SIGTERM to PID 1, SIGKILL after GRACE."""
    ns = ["unshare", "--pid", "--fork", "--mount-proc"]
    command = [*ns, *argv] if as_pid1 else argv
    proc = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # unshare's note when PID 1 is killed
        text=True,
    )
    try:
        ready = wait_ready(proc)
        target = namespace_init(proc.pid) if as_pid1 else proc.pid
        os.kill(target, signal.SIGTERM)
        sent = time.monotonic()
        try:
            proc.wait(timeout=GRACE)
            killed = False
        except subprocess.TimeoutExpired:
            os.kill(target, signal.SIGKILL)
            proc.wait(timeout=5)
            killed = True
        took = time.monotonic() - sent
        assert proc.stdout is not None
        rest = proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return Outcome(
        app_pid=int(ready.split()[-1]),
        as_pid1=as_pid1,
        saw_sigterm="got SIGTERM" in rest,
        needed_sigkill=killed,
        returncode=proc.returncode,
        seconds_after_sigterm=took,
    )


# ANCHOR_END: stop


def scenarios() -> dict[str, tuple[list[str], bool]]:
    """Name -> (command, run as PID 1?). The shell strings are what a
    Dockerfile's shell-form CMD becomes: ["/bin/sh", "-c", "..."]."""
    handled = " ".join(python_app(True))
    return {
        "not PID 1, no handler": (python_app(False), False),
        "exec form, no handler": (python_app(False), True),
        "exec form, handler": (python_app(True), True),
        "sh -c, handler": (["sh", "-c", handled], True),
        "sh -c + exec, handler": (
            ["sh", "-c", f"echo setup; exec {handled}"],
            True,
        ),
        "bash -c, handler": (["bash", "-c", handled], True),
        "init, no handler": (
            [sys.executable, str(APP), "init", *python_app(False)],
            True,
        ),
    }


def describe(o: Outcome) -> str:
    if o.needed_sigkill:
        ended = "killed by SIGKILL"
    elif o.returncode < 0:
        ended = f"killed by {signal.Signals(-o.returncode).name}"
    else:
        ended = f"exit {o.returncode}"
    saw = "saw SIGTERM" if o.saw_sigterm else "never saw SIGTERM"
    pid = f"app pid {o.app_pid}" if o.as_pid1 else "no namespace"
    return f"{pid}, {saw}, {ended}"


def unshare_works() -> str | None:
    """None if we can create a PID namespace, else why not."""
    try:
        probe = subprocess.run(
            ["unshare", "--pid", "--fork", "--mount-proc", "true"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"cannot run unshare: {e}"
    if probe.returncode != 0:
        return f"unshare failed: {probe.stderr.strip()}"
    return None


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "app":
        app(handle_sigterm="--handle-sigterm" in sys.argv[2:])
        return
    if len(sys.argv) > 2 and sys.argv[1] == "init":
        init(sys.argv[2:])
        return
    why = unshare_works()
    if why is not None:
        print(f"pid1_signals: a PID namespace is unavailable: {why}")
        sys.exit(EXIT_SKIP)
    print(f"SIGTERM to PID 1, then SIGKILL after {GRACE} s if still alive")
    for name, (argv, as_pid1) in scenarios().items():
        print(f"{name + ':':<24} {describe(stop(argv, as_pid1))}")


if __name__ == "__main__":
    main()
