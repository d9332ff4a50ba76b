"""Tests of 2.8's deploy files (deploy/Dockerfile, deploy/k8s/*.yaml,
deploy/ci/deploy.yml) and of the checker that reads them
(deploy_check.py). No container engine or cluster runs here: the files
are checked field by field, and each rule of the checker is shown to
catch a broken copy with a message that names the field."""

import copy
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import container_service
import deploy_check
import pytest
import yaml
from deploy_check import (
    DEPLOY,
    check_all,
    check_container,
    check_deployment,
    check_dockerfile,
    check_hpa,
    check_job,
    check_pdb,
    check_workflow,
    cpu_millicores,
    dockerfile_stages,
    memory_bytes,
)

HERE = Path(__file__).resolve().parent
DOCKERFILE = (DEPLOY / "Dockerfile").read_text()


def manifest(name: str) -> dict[str, Any]:
    return deploy_check.load(DEPLOY / "k8s" / f"{name}.yaml")


def workflow() -> dict[str, Any]:
    return deploy_check.load(DEPLOY / "ci" / "deploy.yml")


def api(d: dict[str, Any]) -> dict[str, Any]:
    c = d["spec"]["template"]["spec"]["containers"][0]
    assert isinstance(c, dict)
    return c


# --- The real files -------------------------------------------------------


def test_the_real_files_have_no_problem() -> None:
    report = check_all()
    assert set(report) == {
        "Dockerfile",
        "k8s/deployment.yaml",
        "k8s/pdb.yaml",
        "k8s/hpa.yaml",
        "k8s/migrate-job.yaml",
        "ci/deploy.yml",
    }
    assert report == {name: [] for name in report}


def test_dockerfile_field_by_field() -> None:
    build, runtime = dockerfile_stages(DOCKERFILE)
    assert (build.name, runtime.name) == ("build", "runtime")
    # The same pinned base in both stages, on the Python the tests run.
    assert build.base == runtime.base
    version = re.search(r"python:(\d+)\.(\d+)\.\d+-slim", runtime.base)
    assert version is not None
    assert (int(version[1]), int(version[2])) == sys.version_info[:2]
    # Only the final stage's instructions: no compiler, no apt-get.
    assert not any("apt-get" in rest for _, rest in runtime.lines)
    assert any("build-essential" in rest for _, rest in build.lines)
    assert ("USER", "10001:10001") in runtime.lines
    assert ("COPY", "--from=build /venv /venv") in runtime.lines
    # The CMD names a module that exists and the app object in it.
    cmd = [rest for op, rest in runtime.lines if op == "CMD"]
    assert len(cmd) == 1
    assert '"container_service:app"' in cmd[0]
    assert (HERE / "container_service.py").is_file()
    assert container_service.app is not None
    problems, grace = check_dockerfile(DOCKERFILE, "Dockerfile")
    assert (problems, grace) == ([], 20)


def test_image_and_manifests_agree() -> None:
    """The uid, the port and the grace period are each written twice, in
    the Dockerfile and in the Deployment: they must say the same."""
    d = manifest("deployment")
    pod = d["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsUser"] == 10001
    assert "EXPOSE 8000" in DOCKERFILE
    assert api(d)["ports"][0]["containerPort"] == 8000
    prestop = api(d)["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert (prestop, pod["terminationGracePeriodSeconds"]) == (5, 35)
    assert prestop + 20 < pod["terminationGracePeriodSeconds"]


def test_deployment_field_by_field() -> None:
    d = manifest("deployment")
    assert d["spec"]["replicas"] == 3
    rolling = d["spec"]["strategy"]["rollingUpdate"]
    assert (rolling["maxSurge"], rolling["maxUnavailable"]) == (1, 0)
    c = api(d)
    assert c["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    # The startup probe allows 60 s; liveness only takes over after it.
    startup = c["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] == 60
    res = c["resources"]
    assert res["requests"] == {"cpu": "250m", "memory": "256Mi"}
    assert res["limits"] == {"cpu": "1", "memory": "256Mi"}
    assert c["securityContext"]["readOnlyRootFilesystem"] is True


def test_pdb_hpa_and_job_field_by_field() -> None:
    pdb, hpa, job = manifest("pdb"), manifest("hpa"), manifest("migrate-job")
    assert pdb["apiVersion"] == "policy/v1"
    assert pdb["spec"] == {
        "maxUnavailable": 1,
        "selector": {"matchLabels": {"app": "orders-api"}},
    }
    spec = hpa["spec"]
    assert (spec["minReplicas"], spec["maxReplicas"]) == (3, 12)
    target = spec["metrics"][0]["resource"]["target"]
    assert target == {"type": "Utilization", "averageUtilization": 70}
    assert spec["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 300
    assert job["spec"]["backoffLimit"] == 1
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    assert api(job)["image"] == api(manifest("deployment"))["image"]


def test_requirements_match_the_pins_the_tests_ran_with() -> None:
    def pins(text: str) -> dict[str, str]:
        found = re.findall(r"^([a-z0-9_-]+)==([^\s\\]+)", text, re.M)
        return dict(found)

    image = pins((DEPLOY / "requirements.txt").read_text())
    tested = pins((HERE.parent.parent / "requirements.txt").read_text())
    assert set(image) == {"fastapi", "pydantic", "starlette", "uvicorn"}
    assert {name: tested[name] for name in image} == image


def test_pipeline_stages_and_digest() -> None:
    wf = workflow()
    jobs = wf["jobs"]
    assert list(jobs) == ["lint", "test", "build", "deploy"]
    assert [jobs[j].get("needs") for j in jobs] == [
        None,
        "lint",
        "test",
        "build",
    ]
    push = [s for s in jobs["build"]["steps"] if s.get("id") == "push"]
    assert push[0]["with"]["push"] is True
    assert jobs["build"]["outputs"]["digest"] == (
        "${{ steps.push.outputs.digest }}"
    )
    assert (
        "@${{ needs.build.outputs.digest }}" in jobs["deploy"]["env"]["IMAGE"]
    )
    # PyYAML reads YAML 1.1, where the key `on` is the boolean true.
    keys: list[object] = list(wf)
    assert True in keys and "on" not in keys


# --- Quantities -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "millicores"),
    [("250m", 250), ("1", 1000), (0.5, 500), ("1.5", 1500), (2, 2000)],
)
def test_cpu_quantities(text: object, millicores: int) -> None:
    assert cpu_millicores(text) == millicores


@pytest.mark.parametrize(
    ("text", "size"),
    [("256Mi", 256 * 2**20), ("1Gi", 2**30), ("1G", 10**9), (4096, 4096)],
)
def test_memory_quantities(text: object, size: int) -> None:
    assert memory_bytes(text) == size


@pytest.mark.parametrize("text", ["250 m", "-1", "one", "1.5m", ""])
def test_bad_cpu_quantities_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a CPU quantity"):
        cpu_millicores(text)


@pytest.mark.parametrize("text", ["256MB", "1.5Gi", "Mi", "-1"])
def test_bad_memory_quantities_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a memory quantity"):
        memory_bytes(text)


# --- Broken manifests: each rule catches its mistake ----------------------


def broken_deployment() -> dict[str, Any]:
    return copy.deepcopy(manifest("deployment"))


def test_a_missing_probe_is_named() -> None:
    d = broken_deployment()
    del api(d)["readinessProbe"]
    assert check_deployment(d, 20, "deployment") == [
        "deployment: container 'api': no readinessProbe"
    ]


def test_limits_below_requests_are_caught() -> None:
    d = broken_deployment()
    api(d)["resources"]["limits"] = {"cpu": "100m", "memory": "128Mi"}
    assert check_deployment(d, 20, "deployment") == [
        "deployment: container 'api': limits.cpu 100m is below"
        " requests.cpu 250m",
        "deployment: container 'api': limits.memory 128Mi is below"
        " requests.memory 256Mi",
    ]


def test_missing_resources_and_a_bad_quantity_are_caught() -> None:
    c = copy.deepcopy(api(manifest("deployment")))
    c["resources"] = {"requests": {"cpu": "lots", "memory": "1Gi"}}
    c["resources"]["limits"] = {"cpu": "1"}
    assert check_container(c, "x") == [
        "x: container 'api': no limits.memory",
        "x: container 'api': not a CPU quantity: 'lots'",
    ]


@pytest.mark.parametrize(
    "image",
    [
        "registry.example.com/orders-api:latest",
        "registry.example.com/orders-api:1.4.2",
        "registry.example.com/orders-api@sha256:abc",
        "orders-api",
    ],
)
def test_an_image_without_a_digest_is_caught(image: str) -> None:
    d = broken_deployment()
    api(d)["image"] = image
    assert check_deployment(d, 20, "deployment") == [
        "deployment: container 'api': image is not pinned by digest"
    ]


def test_a_grace_period_without_margin_is_caught() -> None:
    d = broken_deployment()
    del d["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    # Default 30 s is enough for 5 + 20 ...
    assert check_deployment(d, 20, "deployment") == []
    # ... not once the app drains for 25 s.
    assert check_deployment(d, 25, "deployment") == [
        "deployment: terminationGracePeriodSeconds 30 leaves no margin"
        " over preStop + app drain (30 s)"
    ]


def test_a_rollout_that_cannot_move_and_a_lone_replica() -> None:
    d = broken_deployment()
    d["spec"]["strategy"]["rollingUpdate"] = {
        "maxSurge": 0,
        "maxUnavailable": 0,
    }
    d["spec"]["replicas"] = 1
    d["spec"]["selector"]["matchLabels"] = {"app": "other"}
    assert check_deployment(d, 20, "deployment") == [
        "deployment: fewer than 2 replicas",
        "deployment: selector does not match the pod labels",
        "deployment: maxSurge and maxUnavailable are both 0",
    ]


def test_a_pdb_that_blocks_every_drain_is_caught() -> None:
    d = manifest("deployment")
    pdb = manifest("pdb")
    pdb["spec"] = {"minAvailable": 3, "selector": pdb["spec"]["selector"]}
    assert check_pdb(pdb, d, "pdb") == [
        "pdb: allows no eviction, node drains hang"
    ]
    pdb["spec"]["selector"] = {"matchLabels": {"app": "orders"}}
    pdb["spec"]["maxUnavailable"] = 1
    assert check_pdb(pdb, d, "pdb") == [
        "pdb: selector does not match the pods",
        "pdb: set one of minAvailable, maxUnavailable",
        "pdb: allows no eviction, node drains hang",
    ]


def test_an_hpa_on_the_wrong_target_or_without_cpu_requests() -> None:
    d = broken_deployment()
    hpa = manifest("hpa")
    hpa["apiVersion"] = "autoscaling/v1"
    hpa["spec"]["scaleTargetRef"]["name"] = "orders"
    hpa["spec"]["minReplicas"] = 1
    del api(d)["resources"]["requests"]["cpu"]
    assert check_hpa(hpa, d, "hpa") == [
        "hpa: not autoscaling/v2",
        "hpa: scaleTargetRef is not Deployment orders-api",
        "hpa: needs 2 <= minReplicas <= maxReplicas",
        "hpa: CPU utilization needs a CPU request on container 'api'",
    ]


def test_a_migration_job_that_retries_forever_from_another_image() -> None:
    job = manifest("migrate-job")
    job["spec"]["template"]["spec"]["restartPolicy"] = "Always"
    del job["spec"]["backoffLimit"]
    api(job)["image"] = "registry.example.com/orders-api:latest"
    assert check_job(job, manifest("deployment"), "job") == [
        "job: restartPolicy must be Never or OnFailure",
        "job: no backoffLimit",
        "job: image differs from the Deployment's",
    ]


# --- Broken Dockerfiles and pipelines --------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        (
            'CMD ["uvicorn", "container_service:app", "--host", "0.0.0.0", \\\n'
            '     "--port", "8000", "--timeout-graceful-shutdown", "20"]',
            "CMD uvicorn container_service:app --host 0.0.0.0",
            "CMD is in shell form",
        ),
        ("USER 10001:10001", "", "the final stage runs as root"),
        ("USER 10001:10001", "USER root", "the final stage runs as root"),
        (
            "FROM python:3.11.14-slim-bookworm AS runtime",
            "FROM python:3.11-slim AS runtime",
            "base image python:3.11-slim is not pinned to a version",
        ),
        (
            "COPY --from=build /venv /venv",
            "COPY --from=build /venv /venv\n"
            "RUN apt-get update && apt-get install -y gcc",
            "build tools in the final stage",
        ),
        (
            "COPY deploy/requirements.txt /tmp/requirements.txt",
            "COPY py/container_service.py ./\n"
            "COPY deploy/requirements.txt /tmp/requirements.txt",
            "source copied before pip install",
        ),
    ],
)
def test_each_dockerfile_rule_catches_its_mistake(
    old: str, new: str, problem: str
) -> None:
    assert old in DOCKERFILE
    problems, _ = check_dockerfile(DOCKERFILE.replace(old, new), "Dockerfile")
    assert problems == [f"Dockerfile: {problem}"]


def test_a_single_stage_dockerfile_is_caught() -> None:
    text = "FROM python:3.11.14-slim\nCOPY . .\nCMD python app.py\n"
    assert check_dockerfile(text, "D") == (["D: not a multi-stage build"], 0)


def test_pipelines_that_skip_a_stage_or_deploy_a_tag() -> None:
    wf = workflow()
    wf["jobs"]["deploy"]["needs"] = "test"
    wf["jobs"]["deploy"]["env"]["IMAGE"] = "ghcr.io/acme/api:latest"
    assert check_workflow(wf, "ci") == [
        "ci: 'deploy' does not need 'build'",
        "ci: 'deploy' does not use the pushed digest",
        "ci: uses a :latest tag",
    ]
    del wf["jobs"]["lint"]
    assert check_workflow(wf, "ci") == ["ci: no 'lint' job"]
    wf = workflow()
    wf["jobs"]["build"]["steps"][-1]["with"]["push"] = False
    assert check_workflow(wf, "ci") == ["ci: 'build' pushes no image"]


# --- The command line ------------------------------------------------------


def run_checker(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(HERE / "deploy_check.py"), str(root)],
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_the_command_fails_on_a_broken_copy(tmp_path: Path) -> None:
    root = tmp_path / "deploy"
    shutil.copytree(DEPLOY, root)
    path = root / "k8s" / "deployment.yaml"
    d = yaml.safe_load(path.read_text())
    del api(d)["livenessProbe"]
    api(d)["resources"]["limits"]["memory"] = "128Mi"
    path.write_text(yaml.safe_dump(d))
    done = run_checker(root)
    assert done.returncode == 1
    assert "k8s/deployment.yaml    FAILED" in done.stdout
    assert "deployment: container 'api': no livenessProbe" in done.stdout
    assert "limits.memory 128Mi is below requests.memory 256Mi" in done.stdout
    assert done.stdout.endswith("2 problem(s)\n")


def test_the_command_reports_a_file_that_is_not_yaml(tmp_path: Path) -> None:
    root = tmp_path / "deploy"
    shutil.copytree(DEPLOY, root)
    (root / "k8s" / "hpa.yaml").write_text("spec: [unclosed\n")
    done = run_checker(root)
    assert done.returncode == 2
    assert done.stdout.startswith("cannot check deploy: ")
    (root / "k8s" / "hpa.yaml").write_text("- a list\n")
    done = run_checker(root)
    assert (done.returncode, done.stdout) == (
        2,
        "cannot check deploy: hpa.yaml: not a YAML mapping\n",
    )
