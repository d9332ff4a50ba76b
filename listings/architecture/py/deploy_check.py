"""2.8 Containers: a checker for the service's Dockerfile, Kubernetes
manifests and CI pipeline (listings/architecture/deploy/). No container
engine or cluster runs where the tests run, so the files are checked for
the properties that matter: a pinned base image, a non-root user, an
exec-form CMD, dependencies installed before the source is copied, no
build tools in the final stage; probes, requests no larger than limits, a
digest-pinned image, a grace period longer than the preStop hook plus the
app's own drain; a PodDisruptionBudget and an HPA that match the
Deployment; a migration Job from the same image; a pipeline that tests
before it builds and deploys the digest it pushed.

`python3 deploy_check.py [DIR]` checks the files (DIR: the deploy folder)
and prints a summary; each problem is one line that names the file, the
object and the field. Exit status 1 with problems, 2 if a file is
missing or is not YAML.
"""

import itertools
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
PROBES = ("startupProbe", "livenessProbe", "readinessProbe")
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
BUILD_TOOLS = ("build-essential", "gcc", "g++", "make", "git")

Doc = dict[str, Any]


# --- Quantities ----------------------------------------------------------

MEMORY_SUFFIXES = {
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
}


def cpu_millicores(q: object) -> int:
    """Kubernetes CPU: "250m", "1", 0.5 -> 250, 1000, 500."""
    text = str(q)
    if re.fullmatch(r"\d+m", text):
        return int(text[:-1])
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return round(float(text) * 1000)
    raise ValueError(f"not a CPU quantity: {q!r}")


def memory_bytes(q: object) -> int:
    """Kubernetes memory: "256Mi", "1G", 1048576 -> bytes."""
    m = re.fullmatch(r"(\d+)(Ki|Mi|Gi|Ti|k|M|G|T)?", str(q))
    if m is None:
        raise ValueError(f"not a memory quantity: {q!r}")
    return int(m[1]) * MEMORY_SUFFIXES.get(m[2] or "", 1)


PARSE = {"cpu": cpu_millicores, "memory": memory_bytes}


# --- Kubernetes objects --------------------------------------------------


# ANCHOR: container
def check_container(c: Doc, where: str) -> list[str]:
    at = f"{where}: container {c.get('name', '?')!r}"
    problems = [f"{at}: no {p}" for p in PROBES if p not in c]
    if not DIGEST.search(str(c.get("image", ""))):
        problems.append(f"{at}: image is not pinned by digest")
    res = c.get("resources") or {}
    for kind in ("requests", "limits"):
        for name in ("cpu", "memory"):
            if name not in (res.get(kind) or {}):
                problems.append(f"{at}: no {kind}.{name}")
    for name, parse in PARSE.items():
        req = (res.get("requests") or {}).get(name)
        lim = (res.get("limits") or {}).get(name)
        if req is None or lim is None:
            continue
        try:
            below = parse(lim) < parse(req)
        except ValueError as e:
            problems.append(f"{at}: {e}")
            continue
        if below:
            problems.append(
                f"{at}: limits.{name} {lim} is below requests.{name} {req}"
            )
    return problems


# ANCHOR_END: container


def containers(obj: Doc) -> list[Doc]:
    spec = obj.get("spec", {}).get("template", {}).get("spec", {})
    found = spec.get("containers") or []
    return [c for c in found if isinstance(c, dict)]


def pod_labels(deployment: Doc) -> Doc:
    meta = deployment.get("spec", {}).get("template", {}).get("metadata")
    return dict((meta or {}).get("labels") or {})


def selects(selector: Doc | None, labels: Doc) -> bool:
    wanted = (selector or {}).get("matchLabels") or {}
    return bool(wanted) and all(labels.get(k) == v for k, v in wanted.items())


def prestop_seconds(c: Doc) -> int:
    hook = (c.get("lifecycle") or {}).get("preStop") or {}
    return int((hook.get("sleep") or {}).get("seconds", 0))


def check_deployment(d: Doc, app_grace: int, where: str) -> list[str]:
    """`app_grace`: the seconds the app itself drains for after SIGTERM
    (uvicorn's --timeout-graceful-shutdown in the Dockerfile's CMD)."""
    problems: list[str] = []
    if (d.get("apiVersion"), d.get("kind")) != ("apps/v1", "Deployment"):
        problems.append(f"{where}: not an apps/v1 Deployment")
    spec = d.get("spec") or {}
    if int(spec.get("replicas", 1)) < 2:
        problems.append(f"{where}: fewer than 2 replicas")
    if not selects(spec.get("selector"), pod_labels(d)):
        problems.append(f"{where}: selector does not match the pod labels")
    rolling = (spec.get("strategy") or {}).get("rollingUpdate") or {}
    if (
        str(rolling.get("maxSurge"))
        == str(rolling.get("maxUnavailable"))
        == "0"
    ):
        problems.append(f"{where}: maxSurge and maxUnavailable are both 0")
    pod = spec.get("template", {}).get("spec", {})
    grace = int(pod.get("terminationGracePeriodSeconds", 30))
    cs = containers(d)
    if not cs:
        problems.append(f"{where}: no containers")
    for c in cs:
        problems += check_container(c, where)
        needed = prestop_seconds(c) + app_grace
        if grace <= needed:
            problems.append(
                f"{where}: terminationGracePeriodSeconds {grace} leaves no"
                f" margin over preStop + app drain ({needed} s)"
            )
    return problems


def check_pdb(pdb: Doc, d: Doc, where: str) -> list[str]:
    problems: list[str] = []
    spec = pdb.get("spec") or {}
    if not selects(spec.get("selector"), pod_labels(d)):
        problems.append(f"{where}: selector does not match the pods")
    keys = {"minAvailable", "maxUnavailable"} & spec.keys()
    if len(keys) != 1:
        problems.append(f"{where}: set one of minAvailable, maxUnavailable")
    replicas = int((d.get("spec") or {}).get("replicas", 1))
    if str(spec.get("maxUnavailable")) == "0" or (
        isinstance(spec.get("minAvailable"), int)
        and spec["minAvailable"] >= replicas
    ):
        problems.append(f"{where}: allows no eviction, node drains hang")
    return problems


def check_hpa(hpa: Doc, d: Doc, where: str) -> list[str]:
    problems: list[str] = []
    if hpa.get("apiVersion") != "autoscaling/v2":
        problems.append(f"{where}: not autoscaling/v2")
    spec = hpa.get("spec") or {}
    target = spec.get("scaleTargetRef") or {}
    name = (d.get("metadata") or {}).get("name")
    if (target.get("kind"), target.get("name")) != ("Deployment", name):
        problems.append(f"{where}: scaleTargetRef is not Deployment {name}")
    low, high = spec.get("minReplicas", 1), spec.get("maxReplicas", 0)
    if not 2 <= low <= high:
        problems.append(f"{where}: needs 2 <= minReplicas <= maxReplicas")
    cpu = [
        m
        for m in spec.get("metrics") or []
        if (m.get("resource") or {}).get("name") == "cpu"
    ]
    for c in containers(d) if cpu else []:
        requests = (c.get("resources") or {}).get("requests") or {}
        if "cpu" not in requests:
            problems.append(
                f"{where}: CPU utilization needs a CPU request on"
                f" container {c.get('name')!r}"
            )
    return problems


def check_job(job: Doc, d: Doc, where: str) -> list[str]:
    problems: list[str] = []
    spec = job.get("spec") or {}
    pod = (spec.get("template") or {}).get("spec") or {}
    if pod.get("restartPolicy") not in ("Never", "OnFailure"):
        problems.append(f"{where}: restartPolicy must be Never or OnFailure")
    for key in ("backoffLimit", "activeDeadlineSeconds"):
        if key not in spec:
            problems.append(f"{where}: no {key}")
    images = {c.get("image") for c in containers(d)}
    for c in containers(job):
        if c.get("image") not in images:
            problems.append(f"{where}: image differs from the Deployment's")
    return problems


# --- Dockerfile ----------------------------------------------------------


@dataclass
class Stage:
    base: str
    name: str
    lines: list[tuple[str, str]] = field(default_factory=list)


def dockerfile_stages(text: str) -> list[Stage]:
    """Instructions per stage, continuation lines joined, comments gone."""
    joined = re.sub(r"\\\n", " ", text)
    stages: list[Stage] = []
    for raw in joined.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        op, _, rest = line.partition(" ")
        op, rest = op.upper(), rest.strip()
        if op == "FROM":
            parts = rest.split()
            name = parts[2] if len(parts) > 2 else str(len(stages))
            stages.append(Stage(parts[0], name))
        elif stages:
            stages[-1].lines.append((op, rest))
    return stages


# ANCHOR: dockerfile
def check_dockerfile(text: str, where: str) -> tuple[list[str], int]:
    """The problems, and the app's graceful-shutdown seconds from CMD."""
    stages = dockerfile_stages(text)
    if len(stages) < 2:
        return [f"{where}: not a multi-stage build"], 0
    problems = [
        f"{where}: base image {s.base} is not pinned to a version"
        for s in stages
        if not re.search(r":\d+\.\d+\.\d+|@sha256:", s.base)
    ]
    final = stages[-1]
    ops = [op for op, _ in final.lines]
    user = [rest for op, rest in final.lines if op == "USER"]
    if not user or user[-1].split(":")[0] in ("root", "0"):
        problems.append(f"{where}: the final stage runs as root")
    for op, rest in final.lines:
        if op == "RUN" and any(t in rest.split() for t in BUILD_TOOLS):
            problems.append(f"{where}: build tools in the final stage")
    argv: list[str] = []
    if "CMD" not in ops and "ENTRYPOINT" not in ops:
        problems.append(f"{where}: no CMD or ENTRYPOINT")
    for op, rest in final.lines:
        if op in ("CMD", "ENTRYPOINT"):
            try:
                argv = json.loads(rest)
            except json.JSONDecodeError:
                problems.append(f"{where}: {op} is in shell form")
    everything = [line for s in stages for line in s.lines]
    install = [i for i, (op, r) in enumerate(everything) if "pip " in r]
    source = [
        i
        for i, (op, r) in enumerate(everything)
        if op == "COPY" and ".py" in r and "--from" not in r
    ]
    if not install or not source or max(install) > min(source):
        problems.append(f"{where}: source copied before pip install")
    grace = 0
    if "--timeout-graceful-shutdown" in argv:
        grace = int(argv[argv.index("--timeout-graceful-shutdown") + 1])
    return problems, grace


# ANCHOR_END: dockerfile


# --- The pipeline --------------------------------------------------------


def needs(job: Doc) -> list[str]:
    n = job.get("needs") or []
    return [n] if isinstance(n, str) else list(n)


def check_workflow(wf: Doc, where: str) -> list[str]:
    jobs: Doc = wf.get("jobs") or {}
    order = ["lint", "test", "build", "deploy"]
    problems = [f"{where}: no {j!r} job" for j in order if j not in jobs]
    if problems:
        return problems
    for before, after in itertools.pairwise(order):
        if before not in needs(jobs[after]):
            problems.append(f"{where}: {after!r} does not need {before!r}")
    pushes = [
        s
        for s in jobs["build"].get("steps") or []
        if "build-push-action" in str(s.get("uses", ""))
        and (s.get("with") or {}).get("push") is True
    ]
    if not pushes:
        problems.append(f"{where}: 'build' pushes no image")
    elif "digest" not in str(jobs["build"].get("outputs", {}).get("digest")):
        problems.append(f"{where}: 'build' does not output the digest")
    deploy = json.dumps(jobs["deploy"])
    if "needs.build.outputs.digest" not in deploy:
        problems.append(f"{where}: 'deploy' does not use the pushed digest")
    if ":latest" in json.dumps(wf):
        problems.append(f"{where}: uses a :latest tag")
    return problems


# --- All of it -----------------------------------------------------------


def load(path: Path) -> Doc:
    doc = yaml.safe_load(path.read_text())
    if not isinstance(doc, dict):
        raise ValueError(f"{path.name}: not a YAML mapping")
    return doc


MANIFESTS = ("deployment", "pdb", "hpa", "migrate-job")


def check_all(root: Path = DEPLOY) -> dict[str, list[str]]:
    """Problems per file (relative to `root`); empty lists when all pass."""
    docker, grace = check_dockerfile(
        (root / "Dockerfile").read_text(), "Dockerfile"
    )
    k8s = {n: load(root / "k8s" / f"{n}.yaml") for n in MANIFESTS}
    d = k8s["deployment"]
    return {
        "Dockerfile": docker,
        "k8s/deployment.yaml": check_deployment(d, grace, "deployment"),
        "k8s/pdb.yaml": check_pdb(k8s["pdb"], d, "pdb"),
        "k8s/hpa.yaml": check_hpa(k8s["hpa"], d, "hpa"),
        "k8s/migrate-job.yaml": check_job(k8s["migrate-job"], d, "job"),
        "ci/deploy.yml": check_workflow(load(root / "ci" / "deploy.yml"), "ci"),
    }


def main() -> None:
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else DEPLOY
    try:
        report = check_all(root)
    except (OSError, ValueError, yaml.YAMLError) as e:
        print(f"cannot check {root.name}: {e}")
        sys.exit(2)
    for name, problems in report.items():
        print(f"{name:<22} {'ok' if not problems else 'FAILED'}")
        for p in problems:
            print(f"  {p}")
    total = sum(len(p) for p in report.values())
    print(f"{total} problem(s)")
    sys.exit(1 if total else 0)


if __name__ == "__main__":
    main()
