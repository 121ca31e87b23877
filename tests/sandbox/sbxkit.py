"""Helpers for the sandbox suites: the real llmrepl-sandbox CLI, run with --json."""
import json
import subprocess

from conftest import binary


def cli(args, files=(), env=None, timeout=120, user=None):
    cmd = [binary("llmrepl-sandbox"), "--json", *args, *files]
    if user is not None:
        cmd = ["setpriv", "--reuid=%d" % user, "--regid=%d" % user, "--clear-groups"] + cmd
    proc = subprocess.run(cmd, capture_output=True, timeout=timeout, env=env)
    results = [json.loads(line) for line in proc.stdout.decode().splitlines() if line.strip()]
    return proc, results


def flags(timeout=5, memory=None, procs=None, cpu=None, file_size=None, files=None,
          output_max=None, pool=False, extra=()):
    args = ["--timeout", str(timeout)]
    for name, value in (("--memory", memory), ("--procs", procs), ("--cpu", cpu),
                        ("--file-size", file_size), ("--files", files),
                        ("--output-max", output_max)):
        if value is not None:
            args += [name, str(value)]
    if pool:
        args.append("--pool")
    return args + list(extra)


def answer_error(r):
    a = r.get("answer") or {}
    return (a.get("error") or {}).get("type")


def processes_matching(marker):
    """Host processes whose command line contains marker."""
    out = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if marker in line and "ps -eo" not in line]
