"""The deployment files agree with the code: queues, module paths, settings, probes, KEDA lists.

Parses ``Procfile``, ``deploy/compose.yaml`` and every document under ``deploy/k8s/``; needs no
Docker, cluster or server. Module paths are checked by locating the module and reading its
source (``api.wsgi`` and ``workers.app`` build a runtime when imported, so nothing is imported).
"""

from __future__ import annotations

import ast
import dataclasses
import importlib.util
import re
import shlex
import tomllib
from functools import cache
from pathlib import Path

import pytest
import yaml

from shared.engine.registry import QUEUES, JobType, default_registry
from shared.engine.settings import VARIABLES, Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"

SETTINGS_NAMES = {name for name, _attr, _doc in VARIABLES}
#: Read by the launchers (Procfile, gunicorn_conf.py, celery -c), not by Settings.
LAUNCHER_NAMES = {"PORT", "WORKER_CONCURRENCY", "WEB_CONCURRENCY", "JOBLINE_BIND", "JOBLINE_WORKER_CONNECTIONS"}
ALLOWED_NAMES = SETTINGS_NAMES | LAUNCHER_NAMES

#: honcho's own pattern (honcho.environ.PROCFILE_LINE); a line that does not match is
#: silently ignored by honcho, so every non-comment line must match.
PROCFILE_LINE = re.compile(r"^([A-Za-z0-9_-]+):\s*(.+)$")
SHELL_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?[-+?=][^}]*)?\}|\$([A-Za-z_][A-Za-z0-9_]*)")
K8S_VAR = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")
Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available: faster


# -- loading ------------------------------------------------------------------------------


@cache
def procfile() -> dict[str, list[str]]:
    """Process name → argv; a ``migrate && exec server`` line yields ``<name>`` and ``<name>:pre``."""
    out: dict[str, list[str]] = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = PROCFILE_LINE.match(line)
        assert m, f"honcho would ignore this Procfile line: {line!r}"
        assert m.group(1) not in out, f"duplicate Procfile process {m.group(1)}"
        pre, _, main = m.group(2).rpartition("&& exec ")
        out[m.group(1)] = shlex.split(main)
        if pre:
            out[m.group(1) + ":pre"] = shlex.split(pre)
    return out


@cache
def compose() -> dict:
    return yaml.load((DEPLOY / "compose.yaml").read_text(), Loader=Loader)


@cache
def k8s_docs() -> tuple[tuple[str, dict], ...]:
    files = sorted([*(DEPLOY / "k8s").rglob("*.yaml"), *(DEPLOY / "k8s").rglob("*.yml")])
    assert files, "no manifests under deploy/k8s"
    return tuple((f.name, doc) for f in files for doc in yaml.load_all(f.read_text(), Loader=Loader) if doc is not None)


def k8s(kind: str) -> list[dict]:
    return [doc for _f, doc in k8s_docs() if doc["kind"] == kind]


def deployments() -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in k8s("Deployment")}


def containers(workload: dict) -> list[dict]:
    return workload["spec"]["template"]["spec"]["containers"]


def argv_of(container: dict) -> list[str]:
    return [*container.get("command", []), *container.get("args", [])]


# -- what a command runs ------------------------------------------------------------------


def option(argv: list[str], *names: str) -> str | None:
    for i, arg in enumerate(argv):
        for name in names:
            if arg == name and i + 1 < len(argv):
                return argv[i + 1]
            if name.startswith("--") and arg.startswith(name + "="):
                return arg[len(name) + 1:]
    return None


def kind_of(argv: list[str]) -> str:
    """web, worker, beat, migrate or init; fails on anything else."""
    if argv[:1] == ["gunicorn"]:
        return "web"
    if argv[:3] == ["celery", "-A", "workers.app"] and len(argv) > 3 and argv[3] in ("worker", "beat"):
        return argv[3]
    if argv == ["jobline", "db", "upgrade"]:
        return "migrate"
    if argv[:3] == ["jobline", "accounts", "create"] and "--if-missing" in argv:
        return "init"
    raise AssertionError(f"not a Jobline process: {argv}")


def queues_of(argv: list[str]) -> list[str]:
    value = option(argv, "-Q", "--queues")
    assert value, f"a worker must name its queue with -Q: {argv}"
    return value.split(",")


@cache
def top_level_names(module: str) -> frozenset[str]:
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin, f"no module {module}"
    tree = ast.parse(Path(spec.origin).read_text())
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return frozenset(names)


def assert_defines(ref: str) -> None:
    """``module`` or ``module:attr`` exists in the code base."""
    module, _, attr = ref.partition(":")
    names = top_level_names(module)
    assert not attr or attr in names, f"{module} defines no {attr}"


def check_command(argv: list[str]) -> str:
    """The command names real modules, as its program resolves them; returns its kind."""
    kind = kind_of(argv)
    if kind == "web":
        config = option(argv, "-c", "--config")
        assert config == "python:api.gunicorn_conf", argv
        assert_defines(config.removeprefix("python:"))
        assert argv[-1] == "api.wsgi:app", argv
        assert_defines(argv[-1])
    elif kind in ("worker", "beat"):
        assert_defines("workers.app:app")  # celery -A workers.app finds its `app`
    if kind == "worker":
        assert set(queues_of(argv)) <= set(QUEUES), argv
        assert option(argv, "-c", "--concurrency"), f"worker without -c: {argv}"
    if kind == "beat":
        scheduler = option(argv, "-S", "--scheduler")
        assert scheduler == "workers.beat:JoblineScheduler", argv
        assert_defines(scheduler)
    if kind == "migrate":
        scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
        assert_defines(scripts["jobline"])
        from shared.admin.cli import cmd_db_upgrade, parser

        assert parser().parse_args(argv[1:]).func is cmd_db_upgrade
    return kind


def longest_time_limit(queue: str) -> float:
    """The hard time limit a warm shutdown must outwait on this queue (built-in job types)."""
    default = next(f.default for f in dataclasses.fields(JobType) if f.name == "time_limit")
    return max([default, *(jt.time_limit for jt in default_registry() if jt.queue == queue)])


def seconds(duration: str | int) -> float:
    """A compose duration (``6m``, ``1m30s``, ``90s``) in seconds."""
    if isinstance(duration, int):
        return duration
    units = {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "us": 1e-6}
    parts = re.findall(r"(\d+(?:\.\d+)?)(h|ms|us|m|s)", duration)
    assert parts and "".join(n + u for n, u in parts) == duration, f"bad duration {duration!r}"
    return sum(float(n) * units[u] for n, u in parts)


def demand_query(queue: str) -> str:
    """The named query ``autoscale_demand`` with ``queue`` written in, whitespace folded."""
    from shared.engine.queries import queries

    text = "\n".join(line for line in queries["autoscale_demand"].splitlines() if not line.startswith("--"))
    return " ".join(text.replace("%(queue)s", f"'{queue}'").rstrip().rstrip(";").split())


# -- Procfile -----------------------------------------------------------------------------


def test_procfile_has_web_beat_and_a_worker_per_queue_and_migrates_first():
    procs = procfile()
    assert set(procs) == {"web:pre", "web", "beat", *(f"worker_{q}" for q in QUEUES)}
    assert check_command(procs["web:pre"]) == "migrate"
    assert check_command(procs["web"]) == "web"
    assert option(procs["web"], "-b", "--bind") == "0.0.0.0:${PORT:-8000}"
    assert check_command(procs["beat"]) == "beat"
    assert option(procs["beat"], "--pidfile") == ""
    for q in QUEUES:
        argv = procs[f"worker_{q}"]
        assert check_command(argv) == "worker" and queues_of(argv) == [q]
        assert option(argv, "-n", "--hostname") == f"{q}@%h"


def test_procfile_agrees_with_honcho_and_uses_known_variables():
    try:
        from honcho.environ import parse_procfile
    except ImportError:  # honcho comes with the `embedded` extra
        pass
    else:
        names = [n for n in procfile() if not n.endswith(":pre")]
        assert list(parse_procfile((ROOT / "Procfile").read_text()).processes) == names
    text = "\n".join(line for line in (ROOT / "Procfile").read_text().splitlines() if not line.startswith("#"))
    used = {a or b for a, b in SHELL_VAR.findall(text)}
    assert used and used <= ALLOWED_NAMES, used - ALLOWED_NAMES


# -- compose ------------------------------------------------------------------------------


def jobline_services() -> dict[str, dict]:
    """The services running the Jobline image (not postgres or redis)."""
    return {n: s for n, s in compose()["services"].items() if "build" in s}


def test_compose_services():
    services = compose()["services"]
    assert {"postgres", "redis", "migrate", "web", "beat"} <= set(services)
    assert services["postgres"]["image"].split(":")[1].startswith("16")
    assert services["redis"]["image"].split(":")[1].startswith("7")
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert "ping" in services["redis"]["healthcheck"]["test"]
    redis_args = services["redis"]["command"]
    assert redis_args[redis_args.index("--appendonly") + 1] == "no", "Redis holds only messages"
    assert any(v.endswith(":/var/lib/postgresql/data") for v in services["postgres"]["volumes"])
    kinds = {name: check_command(svc["command"]) for name, svc in jobline_services().items()}
    assert kinds["migrate"] == "migrate" and kinds["web"] == "web" and kinds["beat"] == "beat"
    assert list(kinds.values()).count("beat") == 1 and list(kinds.values()).count("web") == 1
    assert services["beat"]["deploy"]["replicas"] == 1


def test_compose_has_one_worker_per_queue_consuming_exactly_it():
    workers = {n: s for n, s in jobline_services().items() if kind_of(s["command"]) == "worker"}
    consumed = sorted(q for s in workers.values() for q in queues_of(s["command"]))
    assert consumed == sorted(QUEUES), "every queue consumed by exactly one worker service"
    for name, svc in workers.items():
        [queue] = queues_of(svc["command"])
        assert name == f"worker-{queue}"
        assert svc["stop_signal"] == "SIGTERM"
        assert seconds(svc["stop_grace_period"]) > longest_time_limit(queue), (
            f"{name}: stop_grace_period shorter than a job's hard time limit")
        assert svc["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_compose_ordering_and_probes():
    services = compose()["services"]
    migrate, web = services["migrate"], services["web"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert web["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["beat"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert "/readyz" in " ".join(web["healthcheck"]["test"])
    assert any(str(p).split(":")[-1] == "8000" for p in web["ports"])
    assert web["environment"]["JOBLINE_BIND"].startswith("0.0.0.0:")


def test_compose_environment_names_are_settings():
    for name, svc in jobline_services().items():
        env = svc.get("environment", {})
        assert isinstance(env, dict), f"{name}: use the mapping form"
        assert set(env) <= ALLOWED_NAMES, f"{name}: unknown variables {set(env) - ALLOWED_NAMES}"
        # Every setting can be given to every Jobline service.
        assert SETTINGS_NAMES <= set(env), f"{name}: not passed through: {SETTINGS_NAMES - set(env)}"
        used = {a or b for a, b in SHELL_VAR.findall(yaml.safe_dump(svc))}
        assert used <= ALLOWED_NAMES, f"{name}: unknown variables {used - ALLOWED_NAMES}"


# -- Kubernetes ---------------------------------------------------------------------------


def test_every_document_is_named_and_namespace_free():
    for file, doc in k8s_docs():
        assert doc.get("apiVersion") and doc.get("kind"), file
        assert doc.get("metadata", {}).get("name"), f"{file}: {doc['kind']} without metadata.name"
        assert "namespace" not in doc["metadata"], f"{file}: {doc['metadata']['name']} sets a namespace"
    names = [(doc["kind"], doc["metadata"]["name"]) for _f, doc in k8s_docs()]
    assert len(names) == len(set(names)), "duplicate kind/name"


def test_deployments_select_their_pods_and_run_real_commands():
    config_maps = {d["metadata"]["name"]: d for d in k8s("ConfigMap")}
    secrets = {d["metadata"]["name"]: d for d in k8s("Secret")}
    workloads = [*k8s("Deployment"), *k8s("Job")]
    for w in workloads:
        name = w["metadata"]["name"]
        labels = w["spec"]["template"]["metadata"]["labels"]
        if w["kind"] == "Deployment":
            selector = w["spec"]["selector"]["matchLabels"]
            assert selector and selector.items() <= labels.items(), f"{name}: selector does not match its pods"
        for c in containers(w):
            assert c.get("image"), f"{name}: container without image"
            argv = argv_of(c)
            check_command(argv)
            # $(VAR) in a command is expanded only from the container's own environment.
            env = {e["name"] for e in c.get("env", [])}
            for ref in c.get("envFrom", []):
                if "configMapRef" in ref:
                    env |= set(config_maps[ref["configMapRef"]["name"]]["data"])
                if "secretRef" in ref:
                    env |= set(secrets[ref["secretRef"]["name"]]["stringData"])
            for var in K8S_VAR.findall(" ".join(argv)):
                assert var in env, f"{name}: $({var}) is not defined in the container"
            assert env <= ALLOWED_NAMES, f"{name}: unknown variables {env - ALLOWED_NAMES}"
            assert {"DATABASE_URL", "REDIS_URL"} <= env, f"{name}: no DATABASE_URL / REDIS_URL"
            assert c.get("resources", {}).get("requests"), f"{name}: no resource requests"


def test_web_probes_and_service():
    [web] = [d for d in k8s("Deployment") if kind_of(argv_of(containers(d)[0])) == "web"]
    [c] = containers(web)
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    for probe in (c["readinessProbe"], c["livenessProbe"]):
        assert probe["httpGet"]["port"] in ports or probe["httpGet"]["port"] in ports.values()
    bind = {e["name"]: e.get("value") for e in c.get("env", [])}.get("JOBLINE_BIND", "")
    assert bind.startswith("0.0.0.0:") and int(bind.rsplit(":", 1)[1]) in ports.values()
    pod_labels = web["spec"]["template"]["metadata"]["labels"]
    services = [s for s in k8s("Service") if s["spec"]["selector"].items() <= pod_labels.items()]
    assert services, "no Service selects the web pods"
    for s in services:
        assert all(p["targetPort"] in ports or p["targetPort"] in ports.values() for p in s["spec"]["ports"])


def test_one_worker_deployment_per_queue_with_a_warm_shutdown_window():
    workers = {n: d for n, d in deployments().items() if kind_of(argv_of(containers(d)[0])) == "worker"}
    consumed = sorted(q for d in workers.values() for c in containers(d) for q in queues_of(argv_of(c)))
    assert consumed == sorted(QUEUES), "every queue consumed by exactly one worker Deployment"
    for name, d in workers.items():
        [queue] = queues_of(argv_of(containers(d)[0]))
        grace = d["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        assert grace > longest_time_limit(queue), f"{name}: SIGKILL before running jobs can finish"


def test_beat_is_a_single_recreated_replica_and_migrations_run_in_a_job():
    beats = [d for d in k8s("Deployment") if kind_of(argv_of(containers(d)[0])) == "beat"]
    assert len(beats) == 1
    assert beats[0]["spec"]["replicas"] == 1
    assert beats[0]["spec"]["strategy"]["type"] == "Recreate"
    jobs = [j for j in k8s("Job") if kind_of(argv_of(containers(j)[0])) == "migrate"]
    assert len(jobs) == 1 and jobs[0]["spec"]["template"]["spec"]["restartPolicy"] in ("Never", "OnFailure")
    names = {d["metadata"]["name"] for d in beats}
    assert not {s["spec"]["scaleTargetRef"]["name"] for s in k8s("ScaledObject")} & names, "beat must not autoscale"


def test_a_scaled_object_per_worker_reading_its_queue_from_postgresql():
    deploys = deployments()
    workers = {n for n, d in deploys.items() if kind_of(argv_of(containers(d)[0])) == "worker"}
    auths = {a["metadata"]["name"]: a for a in k8s("TriggerAuthentication")}
    secrets = {s["metadata"]["name"]: s for s in k8s("Secret")}
    targets = [so["spec"]["scaleTargetRef"]["name"] for so in k8s("ScaledObject")]
    assert sorted(targets) == sorted(workers), "exactly one ScaledObject per worker Deployment"
    for so in k8s("ScaledObject"):
        spec = so["spec"]
        target = deploys[spec["scaleTargetRef"]["name"]]
        assert spec["scaleTargetRef"].get("kind", "Deployment") == "Deployment"
        assert "replicas" not in target["spec"], "the HPA owns replicas; apply would reset them"
        [queue] = queues_of(argv_of(containers(target)[0]))
        assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"]
        [trigger] = spec["triggers"]
        assert trigger["type"] == "postgresql", "Redis holds only wake-ups: the backlog is in PostgreSQL"
        assert " ".join(trigger["metadata"]["query"].split()) == demand_query(queue)
        assert float(trigger["metadata"]["targetQueryValue"]) > 0
        auth = auths[trigger["authenticationRef"]["name"]]
        assert {r["parameter"] for r in auth["spec"]["secretTargetRef"]} == {"connection"}
        for ref in auth["spec"]["secretTargetRef"]:
            assert ref["key"] in secrets[ref["name"]]["stringData"]


def test_disruption_budgets_select_existing_pods():
    pods = {n: d["spec"]["template"]["metadata"]["labels"] for n, d in deployments().items()}
    covered = set()
    for pdb in k8s("PodDisruptionBudget"):
        selector = pdb["spec"]["selector"]["matchLabels"]
        selected = [n for n, labels in pods.items() if selector.items() <= labels.items()]
        assert len(selected) == 1, f"{pdb['metadata']['name']} selects {selected}"
        covered.update(selected)
    scaled = {so["spec"]["scaleTargetRef"]["name"] for so in k8s("ScaledObject")}
    web = {n for n, d in deployments().items() if kind_of(argv_of(containers(d)[0])) == "web"}
    assert scaled | web <= covered, f"no budget for {(scaled | web) - covered}"


def test_configmap_holds_valid_non_secret_settings():
    [cm] = k8s("ConfigMap")
    data = cm["data"]
    assert set(data) <= ALLOWED_NAMES, set(data) - ALLOWED_NAMES
    assert not {"DATABASE_URL", "REDIS_URL"} & set(data), "URLs carry passwords: they go in the Secret"
    assert all(isinstance(v, str) for v in data.values()), "ConfigMap values must be strings"
    Settings.from_env(data)  # numbers parse as their settings' types
    for name in LAUNCHER_NAMES & set(data) - {"JOBLINE_BIND"}:
        assert int(data[name]) > 0


# -- README -------------------------------------------------------------------------------


def test_readme_configuration_table_is_the_generated_one(capsys: pytest.CaptureFixture[str]):
    from shared.admin.cli import main

    assert main(["config"]) == 0
    table = capsys.readouterr().out.strip()
    assert table in (DEPLOY / "README.md").read_text(), (
        "deploy/README.md's table is stale: paste `python -m shared.admin.cli config` again")


# -- first account, liveness, the Procfile's bind (issue 19) --------------------------------


def init_argv_parses(argv: list[str]) -> None:
    """The init command is one the CLI accepts, idempotent, creating an admin."""
    from shared.admin.cli import parser

    args = parser().parse_args(argv[1:])
    assert args.if_missing and args.role == "admin" and not args.no_key and args.name


def test_compose_creates_the_first_account_once_after_migrating():
    services = compose()["services"]
    inits = {n: s for n, s in services.items() if isinstance(s.get("command"), list)
             and s["command"][:3] == ["jobline", "accounts", "create"]}
    assert len(inits) == 1, "one one-shot service creates the first account"
    [(name, init)] = inits.items()
    init_argv_parses(init["command"])
    assert init["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert init["restart"] == "no"
    assert f"docker compose logs {name}" in (DEPLOY / "compose.yaml").read_text()


def test_k8s_creates_the_first_account_in_a_job():
    jobs = [j for j in k8s("Job") if kind_of(argv_of(containers(j)[0])) == "init"]
    assert len(jobs) == 1 and jobs[0]["spec"]["template"]["spec"]["restartPolicy"] in ("Never", "OnFailure")
    init_argv_parses(argv_of(containers(jobs[0])[0]))
    assert "logs job/" + jobs[0]["metadata"]["name"] in (DEPLOY / "README.md").read_text()


def alive_probe_ok(command: list[str], env: dict[str, str]) -> None:
    assert command[:3] == ["python", "-m", "workers.alive"], command
    assert importlib.util.find_spec("workers.alive") is not None
    assert float(command[3]) >= 30
    assert env.get("JOBLINE_ALIVE_FILE", "").startswith("/tmp/"), "the alive file must be on the writable /tmp"


def test_workers_and_beat_have_a_cheap_liveness_probe_in_k8s():
    for d in k8s("Deployment"):
        c = containers(d)[0]
        if kind_of(argv_of(c)) in ("worker", "beat"):
            env = {e["name"]: e.get("value", "") for e in c.get("env", [])}
            alive_probe_ok(c["livenessProbe"]["exec"]["command"], env)
            assert "/tmp" in {m["mountPath"] for m in c["volumeMounts"]}


def test_workers_and_beat_have_a_cheap_liveness_check_in_compose():
    for name, svc in compose()["services"].items():
        if isinstance(svc.get("command"), list) and svc["command"][:1] == ["celery"] \
                and kind_of(svc["command"]) in ("worker", "beat"):
            test = svc["healthcheck"]["test"]
            assert test[0] == "CMD", name
            alive_probe_ok(test[1:], {k: str(v) for k, v in svc["environment"].items() if v is not None})


def test_the_procfile_bind_is_documented():
    web = procfile()["web"]
    assert option(web, "-b", "--bind").startswith("0.0.0.0:")
    text = (ROOT / "Procfile").read_text()
    assert "0.0.0.0" in text.split("web:")[0], "the Procfile says why web binds every interface"
    assert "Procfile" in (DEPLOY / "README.md").read_text() and "0.0.0.0" in (DEPLOY / "README.md").read_text()
def test_the_image_installs_the_s3_extra_and_the_extra_brings_boto3():
    """``JOBLINE_STORAGE_URL=s3://…`` works from the shipped image (S3Store imports boto3)."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert any(re.match(r"boto3\b", req) for req in extras["s3"])
    installs = [line for line in (DEPLOY / "Dockerfile").read_text().splitlines() if "pip install" in line]
    assert installs and all(re.search(r"""["']?\.\[[^\]]*\bs3\b[^\]]*\]["']?""", line) for line in installs), installs
