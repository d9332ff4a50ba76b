"""The alerting files of 2.9 (`alerting/`), checked by the Prometheus
project's own tools: `promtool check rules` and `promtool test rules` for
the SLO burn-rate rules, `amtool check-config` and `amtool config routes
test` for Alertmanager's routing tree.

Without the tools the tests skip, saying why; with REQUIRE_SERVICES=1 (as
in CI, where `.ci/run` installs them) they fail."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ALERTING = Path(__file__).resolve().parent.parent / "alerting"


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        if os.environ.get("REQUIRE_SERVICES") == "1":
            pytest.fail(f"{name} is not installed (REQUIRE_SERVICES=1)")
        pytest.skip(f"{name} is not installed")
    return path


def run(*argv: str, cwd: Path = ALERTING) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, cwd=cwd, capture_output=True, text=True, timeout=60
    )


def test_rules_are_valid() -> None:
    done = run(tool("promtool"), "check", "rules", "slo_rules.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 7 rules found" in done.stdout


def test_rules_page_ticket_and_stay_quiet_as_the_tests_say() -> None:
    done = run(tool("promtool"), "test", "rules", "slo_rules_test.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_the_unit_tests_catch_a_page_without_its_short_window(
    tmp_path: Path,
) -> None:
    """The rule tests can fail: drop the 5 m window from the fast page and
    the page no longer stops when the errors do (only the page story is
    run, to save time)."""
    rules = (ALERTING / "slo_rules.yml").read_text()
    short = "and job:slo_errors_per_request:ratio_rate5m > (14.4 * 0.001)"
    assert short in rules
    (tmp_path / "slo_rules.yml").write_text(rules.replace(short, ""))
    tests = yaml.safe_load((ALERTING / "slo_rules_test.yml").read_text())
    tests["tests"] = tests["tests"][:1]
    (tmp_path / "page_test.yml").write_text(yaml.safe_dump(tests))
    promtool = tool("promtool")
    check = run(promtool, "check", "rules", "slo_rules.yml", cwd=tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr
    done = run(promtool, "test", "rules", "page_test.yml", cwd=tmp_path)
    assert done.returncode == 1
    report = done.stdout + done.stderr
    assert report.count("alertname: ErrorBudgetBurn, time:") == 1
    assert "alertname: ErrorBudgetBurn, time: 7h16m" in report


def test_alertmanager_config_is_valid() -> None:
    done = run(tool("amtool"), "check-config", "alertmanager.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 inhibit rules" in done.stdout
    assert "4 receivers" in done.stdout


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (
            ["alertname=ErrorBudgetBurn", "severity=page", "job=api"],
            "oncall-pager",
        ),
        (["severity=page", "team=payments"], "payments-pager"),
        (["severity=ticket", "team=payments"], "ticket-queue"),
        (["severity=info", "job=api"], "team-chat"),
        (["alertname=Watchdog"], "team-chat"),
        # Label values are matched exactly: "Page" is not "page".
        (["severity=Page"], "team-chat"),
    ],
)
def test_each_label_set_reaches_its_receiver(
    labels: list[str], receiver: str
) -> None:
    done = run(
        tool("amtool"),
        "config",
        "routes",
        "test",
        "--config.file=alertmanager.yml",
        f"--verify.receivers={receiver}",
        *labels,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == receiver


def test_a_wrong_expectation_fails() -> None:
    done = run(
        tool("amtool"),
        "config",
        "routes",
        "test",
        "--config.file=alertmanager.yml",
        "--verify.receivers=ticket-queue",
        "severity=page",
    )
    assert done.returncode != 0
    assert done.stdout.strip().splitlines()[0] == "oncall-pager"
