"""Validate deploy/k8s/*.yaml offline: the built-in kinds against the
Kubernetes schemas packaged in kubernetes-validate (strict: no unknown
fields), KEDA's kinds against its CRD models packaged in
cloudcoil-models-keda (unknown fields refused too), and what ties them
together (the ScaledObject scales a Deployment defined here, on the
workers' consumer group of the jobs stream).

Usage: python deploy/check_k8s.py deploy/k8s/*.yaml  (make lint-deploy)"""
import sys

import yaml

K8S_VERSION = "1.30.0"


def unknown_keys(given, known, path=""):
    """Keys of `given` that the validated model dropped."""
    out = []
    if isinstance(given, dict) and isinstance(known, dict):
        for k, v in given.items():
            if k not in known:
                out.append(path + k)
            else:
                out += unknown_keys(v, known[k], f"{path}{k}.")
    elif isinstance(given, list) and isinstance(known, list):
        for i, (g, k) in enumerate(zip(given, known)):
            out += unknown_keys(g, k, f"{path}{i}.")
    return out


def check_keda(doc):
    from cloudcoil.models.keda import v1alpha1
    model = getattr(v1alpha1, doc["kind"], None)
    if model is None:
        return [f"unknown KEDA kind {doc['kind']}"]
    obj = model.model_validate(doc)
    dumped = obj.model_dump(by_alias=True, exclude_unset=True, mode="json")
    return [f"unknown field {k}" for k in unknown_keys(doc, dumped)]


def main(paths):
    import kubernetes_validate
    errors = []
    docs = []
    for path in paths:
        with open(path) as f:
            for doc in yaml.safe_load_all(f):
                if doc:
                    docs.append((path, doc))
    deployments = {(d["metadata"].get("namespace"), d["metadata"]["name"])
                   for _, d in docs if d["kind"] == "Deployment"}
    auths = {(d["metadata"].get("namespace"), d["metadata"]["name"])
             for _, d in docs if d["kind"] == "TriggerAuthentication"}
    for path, doc in docs:
        what = f"{path}: {doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
        try:
            if doc.get("apiVersion", "").startswith("keda.sh/"):
                problems = check_keda(doc)
            else:
                kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
                problems = []
        except Exception as e:  # validation errors of either kind
            problems = [str(e).splitlines()[0]]
        if doc["kind"] == "ScaledObject":
            ns = doc["metadata"].get("namespace")
            spec = doc["spec"]
            if (ns, spec["scaleTargetRef"]["name"]) not in deployments:
                problems.append("scaleTargetRef names no Deployment defined here")
            for t in spec["triggers"]:
                m = t.get("metadata", {})
                if t["type"] not in ("redis-streams", "redis-sentinel-streams"):
                    problems.append(f"trigger {t['type']} is not a Redis Streams scaler")
                if not m.get("stream", "").endswith("jobs") or m.get("consumerGroup") != "workers":
                    problems.append("the trigger must watch the jobs stream's group `workers`")
                if not any(k in m for k in ("lagCount", "pendingEntriesCount", "streamLength")):
                    problems.append("the trigger has no target (lagCount, ...)")
                ref = t.get("authenticationRef", {}).get("name")
                if ref and (ns, ref) not in auths:
                    problems.append(f"authenticationRef {ref} is not defined here")
        for p in problems:
            errors.append(f"{what}: {p}")
        if not problems:
            print(f"ok  {what}")
    for e in errors:
        print(f"ERR {e}", file=sys.stderr)
    print(f"{len(docs)} resources, {len(errors)} problems")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
