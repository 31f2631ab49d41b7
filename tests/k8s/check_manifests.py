"""tests/k8s/check_manifests.py — offline validation of deploy/k8s.

Renders every kustomization (deploy/k8s/base and each overlay) with the
kustomize that deploy/setup.sh built into deploy/.k8s/bin, then checks the
rendered objects:

  1. Kubernetes objects against the API schemas kubernetes-validate ships
     (strict: an unknown field is an error), for the oldest and newest
     Kubernetes versions we claim (the preStop sleep action needs 1.30).
  2. KEDA objects (ScaledObject) against the openAPIV3Schema of KEDA's own
     CRD (deploy/.k8s/keda, from the KEDA Go module), with jsonschema, plus
     the unknown-field check the API server's pruning would do silently.
  3. What ties the manifests to coachq: every COACHQ_<KEY> name (ConfigMap
     and container env) is a key of lib/cq_config_keys.h with a value the
     programs accept; no service links (Kubernetes' COACHQ_GATEWAY_PORT and
     the like would stop the programs); probes on the endpoints that exist;
     requests and memory limits; a worker's grace period covers its drain; no
     Secret is contained, only referenced; one Deployment and one
     ScaledObject per worker kind of workers/, whose consumer group and topic
     are worker.group_prefix / topics.jobs_prefix + kind.

Then it proves that it catches mistakes: each of a list of small breakages
applied to the rendered objects must be reported (--no-self-test skips it).

  python tests/k8s/check_manifests.py [--no-self-test]
"""
import argparse
import copy
import glob
import os
import re
import subprocess
import sys

import jsonschema
import kubernetes_validate
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
K8S_DIR = os.path.join(ROOT, "deploy", "k8s")
TOOLS = os.path.join(ROOT, "deploy", ".k8s")
KUBE_VERSIONS = ["1.30.0", "1.37.0"]
# What the worker does after its drain (workers/runtime/cq_worker.c): up to
# 10 s flushing results to Kafka, then commit and close.
WORKER_FLUSH_S = 10


def kustomizations():
    found = []
    for path in sorted(glob.glob(os.path.join(K8S_DIR, "**", "kustomization.yaml"), recursive=True)):
        found.append(os.path.relpath(os.path.dirname(path), K8S_DIR))
    return found


def render(target):
    kustomize = os.path.join(TOOLS, "bin", "kustomize")
    if not os.access(kustomize, os.X_OK):
        sys.exit(f"no {kustomize}: run deploy/setup.sh")
    out = subprocess.run([kustomize, "build", os.path.join(K8S_DIR, target)],
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"kustomize build {target}: {out.stderr.strip()}")
    return [d for d in yaml.safe_load_all(out.stdout) if d]


# --------------------------------------------------------------- config table

ROW = re.compile(r'X\("([a-z0-9_.]+)",\s*\w+,\s*(STR|INT|BOOL|MS|SIZE),\s*"([^"]*)",\s*'
                 r'(-?\d+)(?:LL)?,\s*(-?\d+)(?:LL)?,\s*(\w+),')
UNITS = {"MS": {"h": 3600000, "m": 60000, "s": 1000, "ms": 1},
         "SIZE": {"GiB": 1 << 30, "MiB": 1 << 20, "KiB": 1 << 10, "B": 1}}


def config_table():
    text = open(os.path.join(ROOT, "lib", "cq_config_keys.h"), encoding="utf-8").read()
    rows = {}
    for key, typ, default, lo, hi, progs in ROW.findall(text):
        rows[key] = {"type": typ, "default": default, "min": int(lo), "max": int(hi), "progs": progs}
    if len(rows) < 20:
        sys.exit("could not read the config table in lib/cq_config_keys.h")
    return rows


def env_to_key(name, rows):
    """COACHQ_REDIS_PORT -> redis.port, as lib/cq_config.c matches them."""
    rest = name[len("COACHQ_"):]
    if rest.startswith("KAFKA_"):
        return "kafka." + rest[6:].lower().replace("_", ".")
    for key in rows:
        if key.upper().replace(".", "_") == rest:
            return key
    return None


def parse_value(row, value):
    """The value as the program reads it (int for numbers), or raises ValueError."""
    typ = row["type"]
    if typ == "STR":
        return value
    if typ == "BOOL":
        if value in ("true", "1"):
            return True
        if value in ("false", "0"):
            return False
        raise ValueError(f'"{value}" is not true or false')
    if typ == "INT":
        if not re.fullmatch(r"-?\d+", value):
            raise ValueError(f'"{value}" is not a whole number')
        n = int(value)
    else:
        m = re.fullmatch(r"(\d+)([A-Za-z]+)", value)
        if not m or m.group(2) not in UNITS[typ]:
            raise ValueError(f'"{value}" is not a number followed by {"/".join(UNITS[typ])}')
        n = int(m.group(1)) * UNITS[typ][m.group(2)]
    if n < row["min"] or n > row["max"]:
        raise ValueError(f'"{value}" is outside {row["min"]}..{row["max"]}')
    return n


# ------------------------------------------------------------------ schemas

def keda_schemas():
    schemas = {}
    paths = glob.glob(os.path.join(TOOLS, "keda", "*.yaml"))
    if not paths:
        sys.exit(f"no KEDA CRDs in {TOOLS}/keda: run deploy/setup.sh")
    for path in paths:
        with open(path, encoding="utf-8") as f:
            crd = yaml.safe_load(f)
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for v in crd["spec"]["versions"]:
            schemas[(f"{group}/{v['name']}", kind)] = v["schema"]["openAPIV3Schema"]
    return schemas


def unknown_fields(schema, value, where):
    """Fields the API server would prune: not in a closed object's properties."""
    if not isinstance(schema, dict) or schema.get("x-kubernetes-preserve-unknown-fields"):
        return []
    found = []
    if isinstance(value, dict):
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        for k, v in value.items():
            if props is not None and k in props:
                found += unknown_fields(props[k], v, f"{where}.{k}")
            elif isinstance(extra, dict):
                found += unknown_fields(extra, v, f"{where}.{k}")
            elif props is not None and extra is None:
                found.append(f"{where}.{k}: unknown field")
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, v in enumerate(value):
            found += unknown_fields(schema["items"], v, f"{where}[{i}]")
    return found


def schema_errors(doc, keda):
    name = f'{doc.get("kind")}/{doc.get("metadata", {}).get("name")}'
    errors = []
    key = (doc.get("apiVersion"), doc.get("kind"))
    if key in keda:
        schema = keda[key]
        validator = jsonschema.Draft7Validator(schema)
        for e in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path)):
            path = ".".join(str(p) for p in e.absolute_path)
            errors.append(f"{name}: {path}: {e.message} (KEDA CRD schema)")
        errors += [f"{name}: {u.lstrip('.')} (KEDA CRD schema)" for u in unknown_fields(schema, doc, "")]
        return errors
    if str(doc.get("apiVersion", "")).endswith("keda.sh/v1alpha1"):
        return [f"{name}: no KEDA CRD for {key}"]
    for version in KUBE_VERSIONS:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as e:
            path = ".".join(str(p) for p in e.path)
            errors.append(f"{name}: {path}: {e.message} (Kubernetes {version})")
        except (kubernetes_validate.SchemaNotFoundError, kubernetes_validate.InvalidSchemaError) as e:
            errors.append(f"{name}: {e} (Kubernetes {version})")
    return errors


# ------------------------------------------------------------- coachq rules

def worker_kinds():
    return sorted(os.path.basename(os.path.dirname(p)).replace("_", "-")
                  for p in glob.glob(os.path.join(ROOT, "workers", "*", "main.c")))


def coachq_errors(docs, rows):
    errors = []
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d.get("kind"), []).append(d)
    if by_kind.get("Secret"):
        errors.append("a Secret is contained in the manifests: reference it (secretKeyRef) instead")
    configmaps = {d["metadata"]["name"]: d.get("data", {}) for d in by_kind.get("ConfigMap", [])}
    config = {}  # key -> parsed value, from the ConfigMaps the programs read
    for cm_name, data in configmaps.items():
        for name, value in data.items():
            if not name.startswith("COACHQ_"):
                continue
            key = env_to_key(name, rows)
            if key is None:
                errors.append(f"ConfigMap/{cm_name}: {name}: no such config key (docs/CONFIG.md)")
                continue
            if key.startswith("kafka."):
                config[key] = value
                continue
            try:
                config[key] = parse_value(rows[key], str(value))
            except ValueError as e:
                errors.append(f"ConfigMap/{cm_name}: {name}: {e}")

    def setting(key):
        if key in config:
            return config[key]
        return parse_value(rows[key], rows[key]["default"])

    deployments = {d["metadata"]["name"]: d for d in by_kind.get("Deployment", [])}
    seen_kinds = {}
    for dname, d in deployments.items():
        pod = d["spec"]["template"]["spec"]
        where = f"Deployment/{dname}"
        if pod.get("enableServiceLinks") is not False:
            errors.append(f"{where}: enableServiceLinks must be false (Kubernetes would add "
                          "COACHQ_*_PORT variables, which the programs refuse as unknown keys)")
        for c in pod.get("containers", []):
            cwhere = f"{where} container {c.get('name')}"
            for e in c.get("env", []):
                n = e.get("name", "")
                if n.startswith("COACHQ_") and env_to_key(n, rows) is None:
                    errors.append(f"{cwhere}: env {n}: no such config key")
                if "value" in e and n.startswith("COACHQ_") and env_to_key(n, rows) in rows:
                    try:
                        parse_value(rows[env_to_key(n, rows)], str(e["value"]))
                    except ValueError as err:
                        errors.append(f"{cwhere}: env {n}: {err}")
            for ref in c.get("envFrom", []):
                cm = ref.get("configMapRef", {}).get("name")
                if cm is not None and cm not in configmaps:
                    errors.append(f"{cwhere}: envFrom names ConfigMap {cm}, which is not rendered")
            res = c.get("resources", {})
            if not res.get("requests", {}).get("cpu") or not res.get("requests", {}).get("memory"):
                errors.append(f"{cwhere}: no cpu and memory requests")
            if not res.get("limits", {}).get("memory"):
                errors.append(f"{cwhere}: no memory limit")
            cmd = (c.get("command") or [""])[0]
            ports = {p.get("name"): p.get("containerPort") for p in c.get("ports", [])}
            m = re.fullmatch(r"coachq-(.+)-worker", cmd)
            if cmd == "coachq-gateway":
                base = setting("gateway.base_path")
                want = {"readinessProbe": f"{base}/health/ready", "livenessProbe": f"{base}/health"}
                listen_port = int(str(setting("gateway.listen")).rsplit(":", 1)[-1])
                port_name = "http"
            elif m:
                seen_kinds.setdefault(m.group(1), []).append(dname)
                want = {"readinessProbe": "/health", "livenessProbe": "/health"}
                listen = str(setting("worker.metrics_listen"))
                if not listen:
                    errors.append(f"{cwhere}: worker.metrics_listen is empty: no /health to probe")
                    continue
                listen_port = int(listen.rsplit(":", 1)[-1])
                port_name = "metrics"
                grace = pod.get("terminationGracePeriodSeconds", 30)
                drain_s = setting("worker.drain_timeout") / 1000
                if grace < drain_s + WORKER_FLUSH_S:
                    errors.append(f"{where}: terminationGracePeriodSeconds {grace} < worker.drain_timeout "
                                  f"{drain_s:g} s + {WORKER_FLUSH_S} s flush: the drain would be killed")
            else:
                errors.append(f"{cwhere}: command {cmd!r} is no coachq program")
                continue
            if ports.get(port_name) != listen_port:
                errors.append(f"{cwhere}: port {port_name} is {ports.get(port_name)}, the program "
                              f"listens on {listen_port}")
            for probe, path in want.items():
                get = c.get(probe, {}).get("httpGet", {})
                if get.get("path") != path or get.get("port") not in (port_name, listen_port):
                    errors.append(f"{cwhere}: {probe} must be GET {path} on port {port_name} "
                                  f"(is {get.get('path')} on {get.get('port')})")
    for kind in worker_kinds():
        if kind not in seen_kinds:
            errors.append(f"no Deployment runs coachq-{kind}-worker")

    scaled = {}
    partitions = setting("topics.partitions")
    for so in by_kind.get("ScaledObject", []):
        where = f"ScaledObject/{so['metadata']['name']}"
        target = so.get("spec", {}).get("scaleTargetRef", {}).get("name")
        dep = deployments.get(target)
        if dep is None:
            errors.append(f"{where}: scaleTargetRef {target} is no rendered Deployment")
            continue
        cmd = (dep["spec"]["template"]["spec"]["containers"][0].get("command") or [""])[0]
        m = re.fullmatch(r"coachq-(.+)-worker", cmd)
        if not m:
            errors.append(f"{where}: scales {target}, which is no worker")
            continue
        kind = m.group(1)
        scaled[kind] = where
        if so["spec"].get("maxReplicaCount", 100) > partitions:
            errors.append(f"{where}: maxReplicaCount {so['spec'].get('maxReplicaCount')} > "
                          f"topics.partitions {partitions}: the extra members would idle")
        kafka = [t for t in so["spec"].get("triggers", []) if t.get("type") == "kafka"]
        if not kafka:
            errors.append(f"{where}: no kafka trigger")
        for t in kafka:
            md = t.get("metadata", {})
            group = f"{setting('worker.group_prefix')}{kind}"
            topic = f"{setting('topics.jobs_prefix')}{kind}"
            if md.get("consumerGroup") != group:
                errors.append(f"{where}: consumerGroup {md.get('consumerGroup')!r}, the worker's is {group!r}")
            if md.get("topic") != topic:
                errors.append(f"{where}: topic {md.get('topic')!r}, the worker reads {topic!r}")
            env_name = md.get("bootstrapServersFromEnv")
            if env_name is None and "bootstrapServers" not in md:
                errors.append(f"{where}: no bootstrapServers")
            elif env_name is not None and env_name != "COACHQ_KAFKA_BOOTSTRAP_SERVERS":
                errors.append(f"{where}: bootstrapServersFromEnv {env_name}: the workers read "
                              "COACHQ_KAFKA_BOOTSTRAP_SERVERS")
    for kind in worker_kinds():
        if kind not in scaled:
            errors.append(f"no ScaledObject scales coachq-{kind}-worker")
    return errors


def check(docs, rows, keda):
    errors = []
    for d in docs:
        errors += schema_errors(d, keda)
    return errors + coachq_errors(docs, rows)


# ---------------------------------------------------------------- self-test

def find(docs, kind, name_part=""):
    for d in docs:
        if d.get("kind") == kind and name_part in d["metadata"]["name"]:
            return d
    raise KeyError(f"{kind} {name_part}")


def container(docs, name_part):
    return find(docs, "Deployment", name_part)["spec"]["template"]["spec"]["containers"][0]


BREAKAGES = [
    ("a misspelt Deployment field",
     lambda d: find(d, "Deployment", "gateway")["spec"].__setitem__("replica", 2)),
    ("a probe port of the wrong type",
     lambda d: container(d, "gateway")["livenessProbe"]["httpGet"].__setitem__("port", [8080])),
    ("a Service without ports' port",
     lambda d: find(d, "Service")["spec"]["ports"][0].pop("port")),
    ("a PodDisruptionBudget with minAvailable as a list",
     lambda d: find(d, "PodDisruptionBudget")["spec"].__setitem__("minAvailable", [1])),
    ("a ScaledObject lagThreshold as a number (CRD: metadata values are strings)",
     lambda d: find(d, "ScaledObject", "alignment")["spec"]["triggers"][0]["metadata"]
     .__setitem__("lagThreshold", 256)),
    ("a ScaledObject with a misspelt field",
     lambda d: find(d, "ScaledObject", "operations")["spec"].__setitem__("maxReplicas", 3)),
    ("a ScaledObject without its target",
     lambda d: find(d, "ScaledObject", "business-data")["spec"].pop("scaleTargetRef")),
    ("a ScaledObject on the wrong consumer group",
     lambda d: find(d, "ScaledObject", "alignment")["spec"]["triggers"][0]["metadata"]
     .__setitem__("consumerGroup", "coachq-alignmnt")),
    ("a config name that is no key",
     lambda d: find(d, "ConfigMap", "coachq-config")["data"].__setitem__("COACHQ_WORKER_DRAIN_TIMEOT", "30s")),
    ("a duration without its unit",
     lambda d: find(d, "ConfigMap", "coachq-config")["data"].__setitem__("COACHQ_WORKER_DRAIN_TIMEOUT", "30")),
    ("a drain longer than the grace period",
     lambda d: find(d, "ConfigMap", "coachq-config")["data"].__setitem__("COACHQ_WORKER_DRAIN_TIMEOUT", "2m")),
    ("service links left on",
     lambda d: find(d, "Deployment", "operations")["spec"]["template"]["spec"].pop("enableServiceLinks")),
    ("a worker probed on a path it does not serve",
     lambda d: container(d, "alignment")["readinessProbe"]["httpGet"].__setitem__("path", "/ready")),
    ("a worker kind without its Deployment",
     lambda d: d.remove(find(d, "Deployment", "business-data"))),
    ("a contained Secret",
     lambda d: d.append({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "coachq-secrets"},
                         "stringData": {"jwt-secret": "x"}})),
]


def self_test(docs, rows, keda):
    missed = []
    for what, breakage in BREAKAGES:
        broken = copy.deepcopy(docs)
        breakage(broken)
        errors = check(broken, rows, keda)
        if errors:
            print(f"  caught {what}: {errors[0]}")
        else:
            print(f"  MISSED {what}")
            missed.append(what)
    return missed


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-self-test", action="store_true")
    args = parser.parse_args()
    rows, keda = config_table(), keda_schemas()
    failed = False
    rendered = {}
    for target in kustomizations():
        try:
            docs = render(target)
        except RuntimeError as e:
            print(f"FAIL {e}")
            failed = True
            continue
        rendered[target] = docs
        errors = check(docs, rows, keda)
        kinds = ", ".join(sorted({d["kind"] for d in docs}))
        if errors:
            failed = True
            print(f"FAIL {target}: {len(docs)} objects, {len(errors)} errors:")
            for e in errors:
                print(f"  {e}")
        else:
            print(f"ok   {target}: {len(docs)} objects ({kinds}) valid for Kubernetes "
                  f"{' and '.join(KUBE_VERSIONS)} and KEDA's CRDs")
    if not rendered:
        print("FAIL no kustomization rendered")
        return 1
    if not args.no_self_test and "base" in rendered:
        print(f"self-test: {len(BREAKAGES)} breakages of the rendered base must each be caught")
        missed = self_test(rendered["base"], rows, keda)
        if missed:
            failed = True
            print(f"FAIL self-test: {len(missed)} breakages not caught")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
