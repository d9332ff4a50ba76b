"""Tests of 2.8's PID 1 listing (pid1_signals.py): each way of starting a
container's process, made PID 1 by `unshare --pid --fork --mount-proc`,
then stopped as a runtime does (SIGTERM to PID 1, SIGKILL after 0.5 s).
Skipped when a PID namespace cannot be created (not root, no unshare),
a failure under REQUIRE_SERVICES=1."""

import os
import subprocess
import sys
from pathlib import Path

import pid1_signals
import pytest
from pid1_signals import GRACE, Outcome, python_app, stop

HERE = Path(__file__).resolve().parent


@pytest.fixture(autouse=True)
def pid_namespace() -> None:
    why = pid1_signals.unshare_works()
    if why is None:
        return
    if os.environ.get("REQUIRE_SERVICES") == "1":
        pytest.fail(f"REQUIRE_SERVICES=1 and no PID namespace: {why}")
    pytest.skip(f"no PID namespace: {why}")


def timed(argv: list[str], as_pid1: bool = True) -> tuple[Outcome, float]:
    outcome = stop(argv, as_pid1)
    return outcome, outcome.seconds_after_sigterm


def test_outside_a_namespace_the_default_sigterm_kills() -> None:
    outcome, _ = timed(python_app(False), as_pid1=False)
    assert outcome.returncode == -15
    assert not outcome.saw_sigterm and not outcome.needed_sigkill


def test_pid1_without_a_handler_ignores_sigterm() -> None:
    """The kernel drops a signal sent to a namespace's init when the init
    left it at SIG_DFL: the same app that died above survives SIGTERM."""
    outcome, took = timed(python_app(False))
    assert outcome.app_pid == 1
    assert not outcome.saw_sigterm
    assert outcome.needed_sigkill
    assert took >= GRACE


def test_exec_form_delivers_sigterm_to_the_app() -> None:
    outcome, _ = timed(python_app(True))
    assert outcome.app_pid == 1
    assert outcome.saw_sigterm and not outcome.needed_sigkill
    assert outcome.returncode == 0


def test_shell_form_keeps_sigterm_from_the_app() -> None:
    """dash (Debian's /bin/sh) stays PID 1 even for a single command, has
    no SIGTERM handler, so the signal is dropped: the app, which does
    handle SIGTERM, never sees it and is SIGKILLed with the namespace."""
    handled = " ".join(python_app(True))
    outcome, took = timed(["sh", "-c", handled])
    assert outcome.app_pid == 2
    assert not outcome.saw_sigterm
    assert outcome.needed_sigkill
    assert took >= GRACE


def test_exec_in_the_shell_makes_the_app_pid1() -> None:
    handled = " ".join(python_app(True))
    outcome, _ = timed(["sh", "-c", f"echo migrate; exec {handled}"])
    assert (outcome.app_pid, outcome.saw_sigterm) == (1, True)
    assert outcome.returncode == 0 and not outcome.needed_sigkill


def test_bash_execs_the_last_command_of_its_string() -> None:
    """Unlike dash, bash (5.2) replaces itself with the last simple command
    of a -c string, even after another command: the app is PID 1."""
    handled = " ".join(python_app(True))
    for script in [handled, f"echo migrate; {handled}"]:
        o = stop(["bash", "-c", script])
        assert (o.app_pid, o.saw_sigterm, o.returncode) == (1, True, 0)


def test_an_init_forwards_sigterm_to_an_app_without_handler() -> None:
    """With an init as PID 1 the app is PID 2, where SIG_DFL applies: the
    forwarded SIGTERM kills it, and the init exits 128 + 15."""
    argv = [sys.executable, str(HERE / "pid1_signals.py"), "init"]
    outcome, _ = timed([*argv, *python_app(False)])
    assert outcome.app_pid == 2
    assert outcome.returncode == 143
    assert not outcome.needed_sigkill


def test_a_command_that_never_gets_ready_is_reported() -> None:
    with pytest.raises(RuntimeError, match="did not say it was ready"):
        stop(["sh", "-c", "echo oops"])


def test_the_listing_skips_without_unshare() -> None:
    """No `unshare` on PATH: exit 77 with the reason, nothing else run."""
    env = dict(os.environ, PATH="/nonexistent")
    done = subprocess.run(
        [sys.executable, str(HERE / "pid1_signals.py")],
        capture_output=True,
        text=True,
        env=env,
        timeout=10,
    )
    assert done.returncode == pid1_signals.EXIT_SKIP
    assert "cannot run unshare" in done.stdout
