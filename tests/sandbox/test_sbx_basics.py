"""The sandbox's ordinary behaviour: running code, what it reports, the CLI."""
import json
import os
import shutil
import subprocess

import pytest

from conftest import binary
from sbxkit import answer_error

pytest_plugins = ["sbxfixtures"]

FULL = {"pidns", "netns", "mntns", "ipcns", "utsns", "caps", "nnp", "rlimits", "seccomp", "rofs"}


def test_stdout_stderr_exit_code_and_answer(run, mode):
    r = run("import sys\nprint('to out')\nprint('to err', file=sys.stderr)\nsys.exit(3)",
            pool=mode)
    assert r["end"] == "exited" and r["exit_code"] == 3
    assert r["stdout"] == "to out\n" and r["stderr"] == "to err\n"
    assert r["answer"] == {"ok": False, "exit": 3}
    assert r["cli_status"] == 1
    assert r["wall_s"] > 0 and r["peak_kb"] > 0
    assert FULL <= set(r["isolation"]), r
    assert r["pool"] == mode


def test_exception_is_reported_with_its_line(run, mode):
    r = run("x = 1\n\ndef f():\n    return 1 / 0\n\nf()\n", pool=mode)
    assert r["end"] == "exited" and r["exit_code"] == 1
    err = r["answer"]["error"]
    assert err["type"] == "ZeroDivisionError" and err["line"] == 4
    assert "ZeroDivisionError: division by zero" in r["stderr"]
    # The traceback shows the code's lines and none of the sandbox's entry.
    assert "return 1 / 0" in r["stderr"] and "llmrepl_sbx" not in r["stderr"]


def test_syntax_error(run):
    r = run("def f(:\n    pass\n")
    assert r["end"] == "exited" and r["exit_code"] == 1
    assert answer_error(r) == "SyntaxError" and r["answer"]["error"]["line"] == 1


def test_runs_as_main_with_exit_builtins_and_debian_packages(run, mode):
    code = ("import sys\n"
            "assert __name__ == '__main__'\n"
            "import pyflakes, radon\n"
            "print(sys.argv[0], type(exit).__name__)\n"
            "exit(0)\n")
    r = run(code, pool=mode)
    assert r["end"] == "exited" and r["exit_code"] == 0, r["stderr"]
    assert r["stdout"] == "/work/main.py _Quitter\n"
    assert r["answer"] == {"ok": True, "exit": 0}


def test_identity_and_view_inside(run, mode):
    code = ("import os\n"
            "st = open('/proc/self/status').read()\n"
            "f = dict(l.split(':', 1) for l in st.splitlines())\n"
            "print(os.getuid(), os.getgid(), os.getgroups(), os.getcwd())\n"
            "print(f['CapEff'].strip(), f['CapBnd'].strip(), f['NoNewPrivs'].strip(),"
            " f['Seccomp'].strip())\n"
            "print(sorted(os.listdir('/')))\n"
            "print(os.uname().nodename, sorted(os.environ))\n")
    r = run(code, pool=mode)
    assert r["end"] == "exited" and r["exit_code"] == 0, r["stderr"]
    ids, caps, root, host = r["stdout"].splitlines()
    uid, gid, groups, cwd = ids.split(" ", 3)
    assert 60000 <= int(uid) < 61000 and uid == gid and groups == "[]" and cwd == "/work"
    assert caps == "0000000000000000 0000000000000000 1 2"
    assert root == str(sorted(["bin", "dev", "etc", "lib", "lib32", "lib64", "proc", "sandbox",
                               "sbin", "tmp", "usr", "work"]
                              if os.path.exists("/lib32") else
                              ["bin", "dev", "etc", "lib", "lib64", "proc", "sandbox", "sbin",
                               "tmp", "usr", "work"]))
    assert host.startswith("sandbox [")
    assert "PYTHONPATH" not in host and "LLMREPL" not in host


def test_threads_work(run, mode):
    # clone3 answers ENOSYS so glibc falls back to clone; threads must work.
    code = ("import threading\n"
            "out = []\n"
            "ts = [threading.Thread(target=out.append, args=(i,)) for i in range(8)]\n"
            "[t.start() for t in ts]; [t.join() for t in ts]\n"
            "print(sorted(out))\n")
    r = run(code, pool=mode)
    assert r["end"] == "exited" and r["stdout"] == str(list(range(8))) + "\n", r["stderr"]


def test_the_end_joins_threads_runs_atexit_and_shuts_logging_down(run, mode):
    # As the interpreter's own exit: threads joined, then the atexit
    # functions last-registered first, logging's shutdown (registered when
    # logging was imported: before the code's own, in the pool by the
    # server) last, flushing a buffered handler.
    code = ("import atexit, logging, logging.handlers, sys, threading\n"
            "log = logging.getLogger('t')\n"
            "log.propagate = False\n"
            "log.addHandler(logging.handlers.MemoryHandler(\n"
            "    100, target=logging.StreamHandler(sys.stdout)))\n"
            "log.warning('buffered')\n"
            "atexit.register(print, 'atexit')\n"
            "go = threading.Event()\n"
            "threading.Thread(target=lambda: (go.wait(), print('thread'))).start()\n"
            "print('main')\n"
            "go.set()\n")
    r = run(code, pool=mode)
    assert r["end"] == "exited", r
    assert r["stdout"] == "main\nthread\natexit\nbuffered\n", r


def test_a_fork_of_the_code_has_the_interpreter_s_fork_hooks(run, mode):
    # threading's and logging's os.fork() hooks run in the code's own forks
    # (the pool's server skips them in its forks and gives them back): the
    # child knows only its own thread, and a new thread of its can log.
    code = ("import logging, os, sys, threading\n"
            "logging.basicConfig(stream=sys.stdout, format='%(message)s')\n"
            "go = threading.Event()\n"
            "t = threading.Thread(target=go.wait)\n"
            "t.start()\n"
            "pid = os.fork()\n"
            "if pid == 0:\n"
            "    print(len(threading.enumerate()), flush=True)\n"
            "    c = threading.Thread(target=logging.warning, args=('child',))\n"
            "    c.start(); c.join()\n"
            "    sys.stdout.flush()\n"
            "    os._exit(0)\n"
            "os.waitpid(pid, 0)\n"
            "print('parent', len(threading.enumerate()))\n"
            "go.set()\n")
    r = run(code, pool=mode)
    assert r["end"] == "exited", r
    assert r["stdout"] == "1\nchild\nparent 2\n", r


def test_subprocess_of_python_works(run, mode):
    code = ("import subprocess, sys\n"
            "p = subprocess.run([sys.executable, '-c', 'print(6*7)'], capture_output=True,"
            " text=True)\n"
            "print(p.returncode, p.stdout.strip())\n")
    r = run(code, pool=mode)
    assert r["end"] == "exited" and r["stdout"] == "0 42\n", r["stderr"]


def test_evaluate_mode_runs_the_harness(tmp_path, mode):
    req = {"mode": "evaluate", "code": "def add(a, b):\n    return a + b\n",
           "tests": "assert add(1, 2) == 3\nassert add(2, 2) == 5\n", "entry_point": "add"}
    path = tmp_path / "req.json"
    path.write_text(json.dumps(req))
    args = [binary("llmrepl-sandbox"), "--json", "--request", str(path)]
    if mode:
        args.append("--pool")
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120)
    r = json.loads(proc.stdout)
    assert r["end"] == "exited" and r["exit_code"] == 0, r["stderr"]
    ans = r["answer"]
    assert ans["tests_total"] == 2 and ans["tests_passed"] == 1
    assert ans["static"]["pyflakes"]["ran"] and ans["static"]["bandit"]["ran"]


def test_bad_request_is_answered(tmp_path):
    path = tmp_path / "req.json"
    path.write_text('{"mode": "compile"}')
    proc = subprocess.run([binary("llmrepl-sandbox"), "--json", "--request", str(path)],
                          capture_output=True, text=True, timeout=60)
    r = json.loads(proc.stdout)
    assert r["end"] == "exited" and r["exit_code"] == 2
    assert answer_error(r) == "RequestError" and "unknown mode" in r["answer"]["error"]["message"]
    path.write_text("not json")
    proc = subprocess.run([binary("llmrepl-sandbox"), "--json", "--request", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert answer_error(json.loads(proc.stdout)) == "RequestError"


def jsonc_form(v):
    """A value as json-c wrote the CLI's line (JSON_C_TO_STRING_PLAIN | NOSLASHESCAPE):
    no spaces; the quote, the backslash and the controls escaped, nothing else; a
    double as %.17g, with ".0" added to a whole number."""
    if isinstance(v, float):
        t = "%.17g" % v
        return t if ("." in t or "e" in t) else t + ".0"
    if isinstance(v, dict):
        return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + jsonc_form(x)
                              for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ",".join(jsonc_form(x) for x in v) + "]"
    return json.dumps(v, ensure_ascii=False)


def test_the_json_line_is_json_c_s_plain_form():
    """The line --json prints is what json-c printed (sandbox/sbx_json.c, checked against
    json-c itself in tests/unit/test_sbx_json.c): captured bytes that are not UTF-8 as
    U+FFFD, a lone surrogate in the answer as U+FFFD, the fields in their order."""
    code = ("import sys\n"
            "sys.stdout.buffer.write(b'caf\\xc3\\xa9 \\xff\\xfe / \"q\" \\\\ \\x01\\x1f\\x7f\\t\\n')\n"
            "sys.stderr.write('\\u20ac \\U0001F600\\r\\b\\f\\n')\n"
            "raise ValueError('\\ud800 \\u00e9 / \"q\" \\x00')\n")
    proc = subprocess.run([binary("llmrepl-sandbox"), "--json", "-c", code],
                          capture_output=True, timeout=60)
    line = proc.stdout.decode("utf-8")
    assert line.endswith("\n") and line.count("\n") == 1
    r = json.loads(line)
    assert list(r)[:3] == ["end", "exit_code", "signal"] and list(r)[-1] == "pool"
    assert r["stdout"] == 'caf\u00e9 \ufffd\ufffd / "q" \\ \x01\x1f\x7f\t\n', r["stdout"]
    assert r["stderr"].startswith("\u20ac \U0001F600\r\b\f\n")
    assert r["answer"]["error"]["message"] == '\ufffd \u00e9 / "q" \x00', r["answer"]
    assert line[:-1] == jsonc_form(r)


def test_plain_output_and_exit_statuses():
    sbx = binary("llmrepl-sandbox")
    p = subprocess.run([sbx, "-c", "print('hi')"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and p.stdout == "hi\n"
    p = subprocess.run([sbx, "-c", "raise SystemExit(5)"], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 1
    p = subprocess.run([sbx, "--timeout", "0.3", "-c", "while True: pass"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and "llmrepl-sandbox: timeout" in p.stderr
    p = subprocess.run([sbx], capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "nothing to run" in p.stderr
    p = subprocess.run([sbx, "--memory", "1", "-c", "pass"], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 2 and "out of range" in p.stderr
    p = subprocess.run([sbx, "--help"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and "--timeout" in p.stdout and "-c, --code" in p.stdout


def test_required_protection_missing_is_a_setup_failure():
    # As root there is no user namespace: requiring one cannot be met.
    if os.geteuid() != 0:
        pytest.skip("needs root")
    p = subprocess.run([binary("llmrepl-sandbox"), "--json", "--require", "userns", "-c",
                        "pass"], capture_output=True, text=True, timeout=60)
    r = json.loads(p.stdout)
    assert p.returncode == 3 and r["end"] == "error"
    assert "required protections unavailable: userns" in r["detail"]


def test_avoided_protections_are_reported(run):
    # No filter of the sandbox's: the code runs under what this process runs
    # under (none on a host; the engine's in a container).
    own = open("/proc/self/status").read().split("Seccomp:")[1].split()[0]
    r = run("print(open('/proc/self/status').read().split('Seccomp:')[1].split()[0])",
            extra=["--avoid", "seccomp,cgroup"])
    assert r["end"] == "exited" and r["stdout"] == own + "\n"
    assert "seccomp" not in r["isolation"] and "cgroup" not in r["isolation"]
    assert "seccomp disabled by configuration" in r["detail"]
    assert "cgroup disabled by configuration" in r["detail"]


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None,
                    reason="needs root to switch to an ordinary user")
def test_ordinary_user_gets_a_user_namespace(run, mode):
    code = ("import os\n"
            "pids = []\n"
            "try:\n"
            "    for _ in range(64):\n"
            "        pid = os.fork()\n"
            "        if pid == 0:\n"
            "            import time; time.sleep(30); os._exit(0)\n"
            "        pids.append(pid)\n"
            "except OSError:\n"
            "    pass\n"
            "print(os.getuid(), len(pids))\n")
    r = run(code, pool=mode, user=65534, procs=8)
    if r["end"] == "error" and "namespaces" in r["detail"]:
        pytest.skip("user namespaces are disabled here: " + r["detail"])
    assert r["end"] == "exited", r
    uid, forks = r["stdout"].split()
    assert int(uid) == 60000
    assert int(forks) <= 8
    assert "userns" in r["isolation"] and "uid" not in r["isolation"]
    assert {"pidns", "netns", "mntns", "seccomp", "rofs"} <= set(r["isolation"])
    assert "not root: runs in a user namespace as the caller's uid 65534" in r["detail"]
