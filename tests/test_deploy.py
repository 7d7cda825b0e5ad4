"""Deployment files, checked offline: the Kubernetes manifests (both overlays rendered and
validated against Kubernetes 1.28's schemas, plus our own rules), the Compose file, the image's
entry point, and the Grafana dashboard and Prometheus rules against switchboard/metrics.py.

kustomize's binary cannot be installed here, so ``kustomize_build`` renders an overlay with the
few features our kustomizations use (resources, strategic-merge patch files, images, namespace,
a literal secretGenerator without name hashes) and refuses any other field, so a kustomization
cannot grow a feature this renderer would silently ignore.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from switchboard import metrics
from switchboard.settings import PROJECT_ROOT, Settings

DEPLOY = PROJECT_ROOT / "deploy"
K8S = DEPLOY / "k8s"
KUBERNETES_VERSION = "1.28.0"  # the newest kubernetes-validate 1.28.3 bundles (Rasa's jsonschema)
OVERLAYS = ("dev", "production")
# Each server of the image (deploy/docker/entrypoint.py) and the port of its health route.
PROCESSES = {"rasa": 5005, "actions": 5055, "console": 8080, "recorder": 8081,
             "queue-clock": 8082}
PORT_SETTINGS = {"rasa": "rasa_port", "actions": "action_port", "console": "console_port",
                 "recorder": "recorder_port", "queue-clock": "queue_clock_port"}
MODULES = {"actions": "processes.action_server", "console": "processes.console",
           "recorder": "processes.recorder", "queue-clock": "processes.queue_clock"}
CALLED = {"rasa", "actions", "console"}  # behind a Service; the others only call out
SECRET_KEYS = {"SWITCHBOARD_SECRET_KEY", "REST_CHANNEL_TOKEN", "ACTION_SERVER_TOKEN",
               "RASA_API_TOKEN", "SWITCHBOARD_API_TOKEN", "TWILIO_AUTH_TOKEN",
               "TELEGRAM_BOT_TOKEN", "DATABASE_URL", "REDIS_URL"}
SENSITIVE = re.compile(r"TOKEN|SECRET|PASSWORD|DATABASE_URL|REDIS_URL")


# --- A small kustomize -------------------------------------------------------------------

KUSTOMIZATION_FIELDS = {"apiVersion", "kind", "resources", "patches", "images", "namespace",
                        "secretGenerator", "generatorOptions"}
MERGE_KEYS = {"containers": "name", "initContainers": "name", "env": "name", "volumes": "name",
              "volumeMounts": "mountPath", "ports": "containerPort"}


def load_documents(path: Path) -> list[dict]:
    # Through JSON: YAML anchors (shared labels) must not stay one object when patched.
    return [json.loads(json.dumps(doc)) for doc in yaml.safe_load_all(path.read_text()) if doc]


def strategic_merge(base: dict, patch: Mapping) -> None:
    for key, value in patch.items():
        if value is None:
            base.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(base.get(key), dict):
            strategic_merge(base[key], value)
        elif key in MERGE_KEYS and isinstance(value, list) and isinstance(base.get(key), list):
            merge_key = MERGE_KEYS[key]
            for item in value:
                same = [b for b in base[key] if b.get(merge_key) == item.get(merge_key)]
                if same:
                    strategic_merge(same[0], item)
                else:
                    base[key].append(copy.deepcopy(item))
        else:
            base[key] = copy.deepcopy(value)


def kustomize_build(directory: Path) -> list[dict]:
    spec = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unknown = set(spec) - KUSTOMIZATION_FIELDS
    assert not unknown, f"{directory}: fields this test's renderer does not apply: {unknown}"
    assert spec.get("generatorOptions", {"disableNameSuffixHash": True}) == {
        "disableNameSuffixHash": True}
    docs: list[dict] = []
    for resource in spec.get("resources", []):
        path = (directory / resource).resolve()
        docs += kustomize_build(path) if path.is_dir() else load_documents(path)
    for generator in spec.get("secretGenerator", []):
        assert set(generator) == {"name", "literals"}, generator
        data = dict(literal.split("=", 1) for literal in generator["literals"])
        docs.append({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                     "metadata": {"name": generator["name"]}, "stringData": data})
    for patch_ref in spec.get("patches", []):
        assert set(patch_ref) == {"path"}, "only strategic-merge patch files"
        for patch in load_documents(directory / patch_ref["path"]):
            [target] = [d for d in docs if d["kind"] == patch["kind"]
                        and d["metadata"]["name"] == patch["metadata"]["name"]]
            strategic_merge(target, patch)
    for image in spec.get("images", []):
        for container in containers(docs, init=True):
            if container["image"].split(":")[0] == image["name"]:
                container["image"] = f"{image['newName']}:{image['newTag']}"
    if "namespace" in spec:
        for doc in docs:
            doc["metadata"]["namespace"] = spec["namespace"]
    return docs


# --- Helpers -----------------------------------------------------------------------------

def workloads(docs: list[dict]) -> list[dict]:
    return [d for d in docs if d["kind"] in ("Deployment", "StatefulSet")]


def containers(docs: list[dict], init: bool = False) -> Iterator[dict]:
    for workload in workloads(docs):
        pod = workload["spec"]["template"]["spec"]
        yield from pod["containers"]
        if init:
            yield from pod.get("initContainers", [])


def find(docs: list[dict], kind: str, name: str) -> dict:
    [doc] = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return doc


def selects(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def settings_names() -> set[str]:
    """Every environment variable ``Settings.from_env`` reads."""

    class Recording(dict):
        def get(self, key, default=None):
            read.add(key)
            return super().get(key, default)

    read: set[str] = set()
    Settings.from_env(Recording())
    return read


@pytest.fixture(scope="module", params=OVERLAYS)
def overlay(request) -> tuple[str, list[dict]]:
    return request.param, kustomize_build(K8S / "overlays" / request.param)


# --- Kubernetes: schemas -----------------------------------------------------------------

def test_base_and_overlays_validate_against_the_kubernetes_schemas():
    rendered = {name: kustomize_build(K8S / "overlays" / name) for name in OVERLAYS}
    rendered["base"] = kustomize_build(K8S / "base")
    rendered["secret example"] = load_documents(K8S / "base" / "secret.example.yaml")
    for name, docs in rendered.items():
        assert docs, name
        for doc in docs:
            try:  # strict: an unknown or misspelt field fails too
                kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
            except kubernetes_validate.ValidationError as exc:
                pytest.fail(f"{name}: {doc['kind']}/{doc['metadata']['name']}: {exc.message}")


def test_the_renderer_applies_patches_images_and_namespace():
    dev = kustomize_build(K8S / "overlays" / "dev")
    production = kustomize_build(K8S / "overlays" / "production")
    assert find(dev, "Deployment", "switchboard-rasa")["spec"]["replicas"] == 1
    assert find(production, "Deployment", "switchboard-rasa")["spec"]["replicas"] == 3
    assert find(dev, "ConfigMap", "switchboard-settings")["data"]["SWITCHBOARD_DEMO_DATA"] == "true"
    settings = find(production, "ConfigMap", "switchboard-settings")["data"]
    assert settings["CONSOLE_SECURE_COOKIES"] == "true"
    assert settings["RASA_PORT"] == "5005"  # the base's keys stay
    rasa = find(dev, "Deployment", "switchboard-rasa")["spec"]["template"]["spec"]["containers"]
    assert rasa[0]["resources"]["requests"]["cpu"] == "500m"
    assert rasa[0]["resources"]["limits"]["cpu"] == "2"  # merged, not replaced
    assert {d["metadata"]["namespace"] for d in production} == {"switchboard"}
    images = {c["image"] for c in containers(production, init=True)}
    assert images == {"registry.example.com/switchboard:1.0.0"}
    for process in ("recorder", "queue-clock"):  # one in development; one to stand in for another
        assert find(dev, "Deployment", f"switchboard-{process}")["spec"]["replicas"] == 1
        assert find(production, "Deployment", f"switchboard-{process}")["spec"]["replicas"] == 2
        assert find(dev, "PodDisruptionBudget",
                    f"switchboard-{process}")["spec"]["minAvailable"] == 0


# --- Kubernetes: our own rules -----------------------------------------------------------

def test_every_workload_has_probes_resources_and_runs_unprivileged(overlay):
    name, docs = overlay
    assert workloads(docs)
    for workload in workloads(docs):
        where = f"{name}: {workload['metadata']['name']}"
        pod = workload["spec"]["template"]["spec"]
        assert pod["automountServiceAccountToken"] is False, where
        assert pod["securityContext"]["runAsNonRoot"] is True, where
        assert pod["securityContext"]["runAsUser"] > 0, where
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, where
        for container in [*pod["containers"], *pod.get("initContainers", [])]:
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(container["resources"][kind]), where
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, where
            assert security["readOnlyRootFilesystem"] is True, where
            assert security["capabilities"]["drop"] == ["ALL"], where
        for container in pod["containers"]:
            assert "readinessProbe" in container and "livenessProbe" in container, where


def test_switchboard_processes_probe_their_health_routes(overlay):
    """/health on the action server, the console, the recorder and the queue clock; Rasa has
    none: its REST channel's root answers once the model is loaded (bot/channels/base.py), and
    the startup probe waits."""
    _, docs = overlay
    for process, port in PROCESSES.items():
        pod = find(docs, "Deployment", f"switchboard-{process}")["spec"]["template"]
        [container] = pod["spec"]["containers"]
        assert container["args"] == [process]
        assert container["ports"] == [{"name": "http", "containerPort": port}]
        path = "/webhooks/rest/" if process == "rasa" else "/health"
        for probe in ("readinessProbe", "livenessProbe"):
            assert container[probe]["httpGet"] == {"path": path, "port": "http"}
        assert pod["metadata"]["annotations"]["prometheus.io/port"] == str(port)
        assert pod["metadata"]["annotations"]["prometheus.io/path"] == "/metrics"
        mounts = {m["mountPath"] for m in container["volumeMounts"]}
        assert {"/tmp", "/data"} <= mounts  # all the read-only root filesystem leaves writable
    rasa = find(docs, "Deployment", "switchboard-rasa")["spec"]["template"]["spec"]
    assert rasa["containers"][0]["startupProbe"]["failureThreshold"] >= 30
    console = find(docs, "Deployment", "switchboard-console")
    assert console["spec"]["replicas"] == 2  # stateless, migrations locked
    for process in ("console", "recorder", "queue-clock"):  # a rollout never leaves none
        workload = find(docs, "Deployment", f"switchboard-{process}")
        assert workload["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0, process


def test_every_server_of_the_image_has_a_deployment_probed_on_its_health_port():
    """Each server the entry point starts runs in a Deployment of the base, whose container
    listens, is probed and is scraped on the port that server takes from the ConfigMap."""
    servers = load_entrypoint().SERVERS
    assert set(servers) == set(PROCESSES) == set(PORT_SETTINGS)
    docs = kustomize_build(K8S / "base")
    settings = Settings.from_env(find(docs, "ConfigMap", "switchboard-settings")["data"])
    for server in servers:
        port = getattr(settings, PORT_SETTINGS[server])
        assert port == PROCESSES[server], server
        pod = find(docs, "Deployment", f"switchboard-{server}")["spec"]["template"]
        [container] = pod["spec"]["containers"]
        assert container["args"] == [server]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        for probe in ("readinessProbe", "livenessProbe"):
            assert ports[container[probe]["httpGet"]["port"]] == port, (server, probe)
        assert pod["metadata"]["annotations"]["prometheus.io/port"] == str(port)


def test_services_hpas_and_budgets_point_at_real_pods(overlay):
    _, docs = overlay
    pods = {w["metadata"]["name"]: w["spec"]["template"] for w in workloads(docs)}
    for service in (d for d in docs if d["kind"] == "Service"):
        matching = [p for p in pods.values()
                    if selects(service["spec"]["selector"], p["metadata"]["labels"])]
        assert len(matching) == 1, service["metadata"]["name"]
        ports = {p["name"] for c in matching[0]["spec"]["containers"] for p in c["ports"]}
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= ports
    services = [d for d in docs if d["kind"] == "Service"
                and d["metadata"]["labels"].get("app.kubernetes.io/name") == "switchboard"]
    assert {s["metadata"]["name"] for s in services} == {f"switchboard-{p}" for p in CALLED}
    hpas = {d["spec"]["scaleTargetRef"]["name"] for d in docs
            if d["kind"] == "HorizontalPodAutoscaler"}
    assert hpas == {"switchboard-rasa", "switchboard-actions"}
    assert hpas <= set(pods)
    budgets = [d for d in docs if d["kind"] == "PodDisruptionBudget"]
    assert {b["metadata"]["name"] for b in budgets} >= {f"switchboard-{p}" for p in PROCESSES}
    for budget in budgets:
        assert any(selects(budget["spec"]["selector"]["matchLabels"], p["metadata"]["labels"])
                   for p in pods.values())


def test_only_rasa_reaches_the_action_server(overlay):
    """Every NetworkPolicy that selects the action server's pods admits only the Rasa server's
    pods (and the metrics scraper in the monitoring namespace); a default deny selects them."""
    _, docs = overlay
    actions = find(docs, "Deployment", "switchboard-actions")["spec"]["template"]["metadata"]
    rasa = find(docs, "Deployment", "switchboard-rasa")["spec"]["template"]["metadata"]
    policies = [d for d in docs if d["kind"] == "NetworkPolicy"
                and selects(d["spec"]["podSelector"].get("matchLabels", {}), actions["labels"])]
    assert any(not p["spec"].get("ingress") for p in policies), "no default deny"
    admitted = []
    for policy in policies:
        for rule in policy["spec"].get("ingress", []):
            assert rule.get("from"), f"{policy['metadata']['name']} admits every peer"
            for peer in rule["from"]:
                if "namespaceSelector" in peer:
                    assert peer["namespaceSelector"] == {
                        "matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}
                    continue
                labels = peer["podSelector"]["matchLabels"]
                assert selects(labels, rasa["labels"]), labels
                admitted.append(labels)
    assert admitted, "nothing admits the Rasa server"


def test_prometheus_may_scrape_every_process(overlay):
    """The default deny selects every pod: for each process some policy admits the monitoring
    namespace on the port its annotations name."""
    _, docs = overlay
    policies = [d for d in docs if d["kind"] == "NetworkPolicy"]
    for process, port in PROCESSES.items():
        labels = find(docs, "Deployment", f"switchboard-{process}")["spec"]["template"][
            "metadata"]["labels"]
        admitted = {p["port"] for policy in policies
                    if selects(policy["spec"]["podSelector"].get("matchLabels", {}), labels)
                    for rule in policy["spec"].get("ingress", [])
                    if any("namespaceSelector" in peer for peer in rule.get("from", []))
                    for p in rule.get("ports", [])}
        assert port in admitted, process


def test_settings_come_from_the_configmap_and_the_secret(overlay):
    name, docs = overlay
    known = settings_names()
    config = find(docs, "ConfigMap", "switchboard-settings")["data"]
    assert set(config) <= known, set(config) - known
    assert not [k for k in config if SENSITIVE.search(k)], "a secret in the ConfigMap"
    for workload in (find(docs, "Deployment", f"switchboard-{p}") for p in PROCESSES):
        pod = workload["spec"]["template"]["spec"]
        for container in [*pod["containers"], *pod.get("initContainers", [])]:
            assert container["envFrom"] == [
                {"configMapRef": {"name": "switchboard-settings"}},
                {"secretRef": {"name": "switchboard-secrets"}}]
            assert "env" not in container
    secrets = [d for d in docs if d["kind"] == "Secret"]
    if name == "production":  # created from the operator's secret manager, never in git
        assert secrets == []
        return
    [secret] = secrets
    values = secret["stringData"]
    assert set(values) <= SECRET_KEYS
    assert {"SWITCHBOARD_SECRET_KEY", "SWITCHBOARD_API_TOKEN"} <= set(values)  # pods agree
    settings = Settings.from_env({**config, **values})  # the values parse as settings
    assert settings.data_dir == Path("/data") and settings.action_server_host == "0.0.0.0"
    assert settings.action_endpoint_url == "http://switchboard-actions:5055/webhook"


def test_the_secret_example_names_every_secret_setting():
    [secret] = load_documents(K8S / "base" / "secret.example.yaml")
    assert set(secret["stringData"]) == SECRET_KEYS
    assert settings_names() >= SECRET_KEYS
    assert not any(secret["stringData"].values()), "the example carries no value"


# --- The image and Compose ---------------------------------------------------------------

def load_entrypoint():
    spec = importlib.util.spec_from_file_location(
        "switchboard_entrypoint", DEPLOY / "docker" / "entrypoint.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_entrypoint_runs_each_process_as_the_launcher_does():
    """In a container the servers get the command and environment ``make run`` gives them:
    the dev overlay's settings, with Redis and the action server from the cluster."""
    entrypoint = load_entrypoint()
    docs = kustomize_build(K8S / "overlays" / "dev")
    env = {**find(docs, "ConfigMap", "switchboard-settings")["data"],
           **find(docs, "Secret", "switchboard-secrets")["stringData"]}
    rasa, rasa_env = entrypoint.command_for("rasa", env)
    assert rasa[1:4] == ["-m", "processes.rasa_server", "run"]
    assert rasa[rasa.index("--model") + 1] == "/app/models"  # the newest model found there
    assert rasa[rasa.index("--port") + 1] == "5005" and "--enable-api" in rasa
    assert rasa_env["REDIS_URL"] == "redis://switchboard-redis:6379/0"
    assert rasa_env["ACTION_ENDPOINT_URL"] == "http://switchboard-actions:5055/webhook"
    assert rasa_env["ACTION_SERVER_AUTHORIZATION"].startswith("Bearer ")
    assert rasa_env["SANIC_WORKERS"] == "1"
    assert not any(env["SWITCHBOARD_SECRET_KEY"] in arg for arg in rasa)  # never on argv
    assert entrypoint.command_for("actions", env)[0][1:] == ["-m", "processes.action_server"]
    assert entrypoint.command_for("console", env)[0][1:] == ["-m", "processes.console"]
    for process, module in MODULES.items():
        command, process_env = entrypoint.command_for(process, env)
        assert command[1:] == ["-m", module], process
        assert process_env["REDIS_URL"] == "redis://switchboard-redis:6379/0"
        assert not any(env["SWITCHBOARD_SECRET_KEY"] in arg for arg in command)
    _, recorder_env = entrypoint.command_for("recorder", env)
    _, clock_env = entrypoint.command_for("queue-clock", env)
    assert recorder_env["RECORDER_PORT"] == "8081" and clock_env["QUEUE_CLOCK_PORT"] == "8082"
    assert clock_env["RASA_URL"] == "http://switchboard-rasa:5005"  # it resumes trackers
    with pytest.raises(ValueError):
        entrypoint.command_for("redis", env)
    with pytest.raises(ValueError):
        entrypoint.command_for("contacts", env)  # the old all-in-one process is gone


def test_the_dockerfile_runs_unprivileged_with_every_process():
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    assert "ARG PYTHON_IMAGE=python:3.10-slim" in dockerfile
    assert re.search(r"^USER 10001:10001$", dockerfile, re.M)
    assert 'ENTRYPOINT ["python", "/app/deploy/docker/entrypoint.py"]' in dockerfile
    assert "constraints.txt" in dockerfile
    ignored = (PROJECT_ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", "var", "tests"} <= set(ignored)
    constraints = (DEPLOY / "docker" / "constraints.txt").read_text()
    assert re.search(r"^rasa==3\.6\.21$", constraints, re.M)
    assert re.search(r"^prometheus[-_]client==", constraints, re.M | re.I)


def test_compose_runs_the_stack_with_health_checks_and_an_internal_action_server():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"redis", "postgres", "migrate", "console", "recorder",
                             "queue-clock", "actions", "rasa"}
    assert "--appendonly" in services["redis"]["command"]
    for process, port in PROCESSES.items():
        service = services[process]
        assert service["command"] == [process]
        assert service["read_only"] is True
        test = " ".join(service["healthcheck"]["test"])
        path = "/webhooks/rest/" if process == "rasa" else "/health"
        assert f"http://127.0.0.1:{port}{path}" in test
        if process != "rasa":
            depends = services[process]["depends_on"]
            assert depends["migrate"] == {"condition": "service_completed_successfully"}
    for internal in ("actions", "recorder", "queue-clock"):
        assert "ports" not in services[internal], internal
    assert services["recorder"]["networks"] == ["data"]  # Redis and PostgreSQL only
    shared = set(services["actions"]["networks"])
    assert shared & set(services["rasa"]["networks"])
    for other in ("console", "recorder", "queue-clock"):  # none of them can reach it
        assert not shared & set(services[other]["networks"]), other
    environment = services["console"]["environment"]
    assert set(environment) <= settings_names()


# --- Dashboard and alert rules -----------------------------------------------------------

METRIC = re.compile(r"\b(switchboard_[a-z0-9_]+)\b")
STANDARD = {"up"}

RULES_SCHEMA = {
    "type": "object", "required": ["groups"], "additionalProperties": False,
    "properties": {"groups": {"type": "array", "minItems": 1, "items": {
        "type": "object", "required": ["name", "rules"], "additionalProperties": False,
        "properties": {"name": {"type": "string"}, "rules": {"type": "array", "minItems": 1,
            "items": {"type": "object", "required": ["alert", "expr", "labels", "annotations"],
                      "additionalProperties": False,
                      "properties": {
                          "alert": {"type": "string", "pattern": "^Switchboard[A-Za-z]+$"},
                          "expr": {"type": "string"},
                          "for": {"type": "string", "pattern": "^[0-9]+[smh]$"},
                          "labels": {"type": "object", "required": ["severity"],
                                     "properties": {"severity": {
                                         "enum": ["warning", "critical"]}}},
                          "annotations": {"type": "object", "required": ["summary"]}}}}}}}}}

DASHBOARD_SCHEMA = {
    "type": "object", "required": ["uid", "title", "panels", "schemaVersion", "templating"],
    "properties": {"panels": {"type": "array", "items": {
        "type": "object", "required": ["id", "type", "title", "gridPos"],
        "properties": {
            "gridPos": {"type": "object", "required": ["h", "w", "x", "y"]},
            "type": {"enum": ["row", "timeseries", "stat"]},
            "targets": {"type": "array", "items": {
                "type": "object", "required": ["refId", "expr", "datasource"]}}}}}}}


def alert_rules() -> list[dict]:
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    jsonschema.validate(rules, RULES_SCHEMA)
    return [rule for group in rules["groups"] for rule in group["rules"]]


def dashboard_expressions() -> list[str]:
    dashboard = json.loads((DEPLOY / "grafana" / "switchboard.json").read_text())
    jsonschema.validate(dashboard, DASHBOARD_SCHEMA)
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]


def test_alert_rules_and_dashboard_use_only_defined_metrics():
    defined = metrics.exposed_names()
    expressions = [rule["expr"] for rule in alert_rules()] + dashboard_expressions()
    for expr in expressions:
        used = set(METRIC.findall(expr))
        assert used or re.search(r"\bup\{", expr), expr
        assert used <= defined, (used - defined, expr)
    everything = " ".join(expressions)
    # The operations team sees, and is alerted on, every metric a process exports.
    for name in defined - {"switchboard_action_duration_seconds_count",
                           "switchboard_action_duration_seconds_sum",
                           "switchboard_reply_latency_seconds_count",
                           "switchboard_reply_latency_seconds_sum"}:
        assert name in everything, f"{name} is on no panel and in no rule"


def test_the_alerts_worth_having_are_there():
    names = {rule["alert"] for rule in alert_rules()}
    assert {"SwitchboardProcessDown", "SwitchboardRecorderLagging", "SwitchboardDeadLetters",
            "SwitchboardQueueWaitAboveServiceLevel", "SwitchboardMessagesFailing",
            "SwitchboardFallbackRateHigh", "SwitchboardProviderErrors",
            "SwitchboardRedisErrors", "SwitchboardDatabaseErrors"} <= names


PROMTOOL = shutil.which("promtool")


@pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed (Debian: prometheus)")
def test_promtool_checks_the_rules_their_unit_tests_and_the_dashboard_queries(tmp_path):
    folder = DEPLOY / "prometheus"
    for command in (["check", "rules", "alerts.yml"], ["test", "rules", "alerts.test.yml"]):
        done = subprocess.run([PROMTOOL, *command], cwd=folder, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
    # The dashboard's queries parse as PromQL: each one as a recording rule.
    queries = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:query_{i}", "expr": e}
        for i, e in enumerate(dashboard_expressions())]}]}
    (tmp_path / "dashboard.yml").write_text(yaml.safe_dump(queries))
    done = subprocess.run([PROMTOOL, "check", "rules", "dashboard.yml"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
