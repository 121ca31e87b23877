"""deploy/k8s validates offline (deploy/check_k8s.py, run by make
lint-deploy in CI), and the validation catches what it should: an unknown
field in a Deployment or a ScaledObject, a scaler on the wrong group."""
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PY = ROOT / ".venv-lint" / "bin" / "python"
FILES = sorted((ROOT / "deploy" / "k8s").glob("*.yaml"))


def check(paths):
    if not PY.exists():
        pytest.skip("make lint-deploy builds .venv-lint (kubernetes-validate, cloudcoil-models-keda)")
    return subprocess.run([str(PY), str(ROOT / "deploy" / "check_k8s.py"), *map(str, paths)],
                          capture_output=True, text=True, timeout=120)


def test_manifests_are_valid():
    out = check(FILES)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "ScaledObject/worker" in out.stdout and "Deployment/worker" in out.stdout


@pytest.mark.parametrize("name,old,new,why", [
    ("30-worker.yaml", "terminationGracePeriodSeconds: 90",
     "terminationGracePeriodSeconds: 90\n      terminationGraceSeconds: 9", "terminationGraceSeconds"),
    ("40-keda.yaml", "maxReplicaCount: 64", "maxReplicaCount: 64\n  maxReplicas: 3", "maxReplicas"),
    ("40-keda.yaml", "consumerGroup: workers", "consumerGroup: dispatchers", "group `workers`"),
    ("40-keda.yaml", "name: worker\n  minReplicaCount", "name: workers\n  minReplicaCount",
     "names no Deployment"),
])
def test_mistakes_are_caught(tmp_path, name, old, new, why):
    paths = []
    for f in FILES:
        text = f.read_text()
        if f.name == name:
            assert old in text
            text = text.replace(old, new, 1)
        (tmp_path / f.name).write_text(text)
        paths.append(tmp_path / f.name)
    out = check(paths)
    assert out.returncode == 1 and why in out.stderr, out.stdout + out.stderr
