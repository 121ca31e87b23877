#!/usr/bin/env python3
"""bench/parity: every bench/ program on an older build and on this tree's, in
the same run, each figure printed as old -> new with the ratio new / old.

The base (--base, a commit) is checked out with `git worktree add --detach`
under --dir (default build-parity/) and built there by its own Makefile into
its own build directory; this tree is built as it is (make all and the bench
programs). Then, --rounds times (default 2), every program runs on both
builds in turn, the order alternating round by round (old, new; new, old; ...)
so that a change in the machine's load falls on both alike.

A program runs when both trees have it: bench/<name>.c as built
(build/bench/<name>), bench/<name>.py as that tree's own script with
`--build <that tree>/build`. The ones that need the model (llm.py,
humaneval.py) run only when --only names them. By
default each gets arguments that keep a round to a minute or two (--full:
the programs' own defaults).

Figures are paired by line: a line's text with its numbers taken out is its
key (the n-th line of a key with the n-th), so a program may print what it
likes. Each number is the median over the rounds. A number that differs is
printed old->new(ratio); a line with no number is not shown, a line only one
build prints is shown as such. At the end of each program: how many figures
moved by more than --noise (default 0.10) either way with the rounds of the
two builds apart (no round of one within the range of the other's); on a
shared or busy machine noise is larger than that, say so beside the figures.
Each run's output is kept in --dir as <program>.<old|new>.<round>.txt.

    python3 bench/parity.py [--base REV] [--rounds 2] [--only queue,sandbox] [--saved]
                            [--dir build-parity] [--noise 0.10] [--full] [--list]
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The tree before the layout and layering work (model/ and gitstore/ out of
# common/, one Redis client, one start-up, the queue handle).
DEFAULT_BASE = "c75b9ca"
MODEL = {"llm", "humaneval"}
QUICK = {
    "queue": ["--jobs", "150", "--runs", "150"],
    "sandbox": ["--runs", "100", "--seconds", "3"],
    "session": ["100"],
    "batch.py": ["--runs", "1"],
    "http_api.py": ["--pairs", "100", "--seconds", "5"],
    "io.py": ["--repeat", "2"],
    "scale.py": ["--quick"],
    "session.py": ["--runs", "60"],
    "humaneval.py": ["--subset", "eighth", "--latency", "3"],
    "llm.py": ["--runs", "3"],
}
NUMBER = re.compile(r"(?<![\w.])[-+]?\d+(?:\.\d+)?")
TIMEOUT_S = 3600


def sh(cmd, cwd, **kw):
    return subprocess.run(cmd, cwd=cwd, check=True, **kw)


def base_tree(rev, where):
    """A detached worktree of rev under `where`, made or moved there."""
    sha = sh(["git", "rev-parse", "--verify", rev + "^{commit}"], ROOT,
             capture_output=True, text=True).stdout.strip()
    tree = where / ("base-" + sha[:12])
    if not tree.exists():
        where.mkdir(parents=True, exist_ok=True)
        sh(["git", "worktree", "add", "--detach", str(tree), sha], ROOT,
           stdout=subprocess.DEVNULL)
    for venv in (".venv", ".venv-bench"):  # the model's and the reference harness's
        if (ROOT / venv).exists() and not (tree / venv).exists():
            (tree / venv).symlink_to((ROOT / venv).resolve())
    return tree, sha


def programs(tree):
    """{name: kind} of the bench programs a tree has: 'c' or 'py' (a script
    that takes --build; not the tools that read other programs' output)."""
    out = {}
    for f in sorted((tree / "bench").iterdir()):
        if f.suffix == ".c":
            out[f.stem] = "c"
        elif (f.suffix == ".py" and f.name != "parity.py"
              and '"--build"' in f.read_text(errors="replace")):
            out[f.name] = "py"
    return out


def build(tree, names):
    bins = [f"build/bench/{n}" for n, k in names.items() if k == "c"]
    print(f"building {tree} ...", flush=True)
    sh(["make", "-j2", "-s", "all", *bins], tree, stdout=subprocess.DEVNULL)


def command(tree, name, kind, args):
    if kind == "c":
        return [str(tree / "build" / "bench" / name), *args]
    return ["/usr/bin/python3", str(tree / "bench" / name), "--build", str(tree / "build"),
            *args]


def run_one(tree, name, kind, args, log):
    env = dict(os.environ)
    data = ROOT.parent / "shared" / "datasets"
    if "LLMREPL_DATASETS" not in env and data.is_dir():
        env["LLMREPL_DATASETS"] = str(data.resolve())
    with open(log, "a") as err:
        err.write(f"\n== {tree}: {name}\n")
        err.flush()
        p = subprocess.run(command(tree, name, kind, args), cwd=tree, env=env, text=True,
                           stdout=subprocess.PIPE, stderr=err, timeout=TIMEOUT_S)
    if p.returncode != 0:
        print(f"  {name} on {tree.name} exited {p.returncode} (see {log})")
    return p.stdout


def figures(text):
    """[(key, template, [numbers])] of the lines that hold numbers."""
    seen = {}
    out = []
    for line in text.splitlines():
        nums = [float(m) for m in NUMBER.findall(line)]
        if not nums:
            continue
        shape = NUMBER.sub("#", " ".join(line.split()))
        seen[shape] = seen.get(shape, 0) + 1
        out.append(((shape, seen[shape]), line, nums))
    return out


def rounds(runs):
    """key -> (template, [[value of each round] per number]) over the runs
    that have the line (a run that failed has fewer), with as many numbers."""
    got = {}
    for text in runs:
        for key, line, nums in figures(text):
            got.setdefault(key, (line, []))[1].append(nums)
    out = {}
    for key, (line, all_nums) in got.items():
        if len({len(n) for n in all_nums}) == 1:
            out[key] = (line, [list(col) for col in zip(*all_nums)])
    return out


def fmt(v):
    return f"{v:g}" if abs(v) >= 100 or v == int(v) else f"{v:.3g}"


def pair_text(text, o, n):
    if o == n:
        return text
    return f"{fmt(o)}->{fmt(n)}({n / o:.2f})" if o else f"{fmt(o)}->{fmt(n)}"


def apart(ov, nv):
    """The rounds of the two builds do not overlap (with one round: always)."""
    return min(nv) > max(ov) or max(nv) < min(ov)


def compare(name, old_runs, new_runs, noise):
    old, new = rounds(old_runs), rounds(new_runs)
    moved, paired = [], 0
    print(f"\n== {name}")
    for key, (line, ncols) in new.items():
        if key not in old:
            continue
        meds = [(statistics.median(o), statistics.median(n)) for o, n in zip(old[key][1], ncols)]
        it = iter(meds)
        print("  " + NUMBER.sub(lambda m: pair_text(m.group(0), *next(it)), line.strip()))
        for (o, n), ov, nv in zip(meds, old[key][1], ncols):
            paired += 1
            if o and abs(n / o - 1) > noise and apart(ov, nv):
                moved.append(f"{fmt(o)}->{fmt(n)}")
    for label, other, runs in (("old", new, old_runs), ("new", old, new_runs)):
        text = next((t for t in runs if t.strip()), "")
        for key, line, _ in figures(text):
            if key not in other:
                print(f"  {label} only: {line.strip()}")
    print(f"  -- {paired} figures paired; {len(moved)} moved by more than {noise:.0%} with "
          f"the rounds of the two builds apart" + (f": {', '.join(moved)}" if moved else ""))


def saved(where, names, noise):
    print(f"\nold -> new (new / old), medians of the rounds kept in {where}")
    for name in names:
        runs = ([f.read_text() for f in sorted(where.glob(f"{name}.{w}.*.txt"))]
                for w in ("old", "new"))
        compare(name, *runs, noise)
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", default=DEFAULT_BASE)
    ap.add_argument("--dir", default=str(ROOT / "build-parity"))
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--only", default="", help="comma-separated names (queue, io.py, ...)")
    ap.add_argument("--noise", type=float, default=0.10)
    ap.add_argument("--full", action="store_true", help="the programs' own default sizes")
    ap.add_argument("--list", action="store_true", help="what would run, and exit")
    ap.add_argument("--saved", action="store_true",
                    help="compare the outputs a run kept in --dir again, running nothing")
    a = ap.parse_args()

    where = Path(a.dir).resolve()
    wanted = [n for n in a.only.split(",") if n]
    if a.saved:
        return saved(where, wanted or sorted({f.name.split(".old.")[0]
                                              for f in where.glob("*.old.*.txt")}), a.noise)
    old_tree, sha = base_tree(a.base, where)
    old_p, new_p = programs(old_tree), programs(ROOT)
    both = {n: k for n, k in new_p.items() if old_p.get(n) == k
            and (n in wanted if wanted else Path(n).stem not in MODEL)}
    head = sh(["git", "rev-parse", "--short", "HEAD"], ROOT, capture_output=True,
              text=True).stdout.strip()
    if subprocess.run(["git", "diff", "--quiet", "HEAD"], cwd=ROOT).returncode:
        head += " and uncommitted changes"
    print(f"bench/parity: base {sha[:12]} ({old_tree}) beside this tree ({head}), "
          f"{a.rounds} round(s), on {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")
    print("  in both: " + (", ".join(both) or "none"))
    print("  this tree only: " + (", ".join(sorted(set(new_p) - set(old_p))) or "none"))
    skipped = sorted(n for n in new_p if n in old_p and n not in both)
    if skipped:
        print("  not run (the model, or not asked for): " + ", ".join(skipped))
    if a.list or not both:
        return 0
    build(old_tree, old_p)
    build(ROOT, new_p)
    log = where / "parity.log"
    results = {n: ([], []) for n in both}
    for r in range(a.rounds):
        order = [(0, old_tree), (1, ROOT)]
        if r % 2:
            order.reverse()
        for name, kind in both.items():
            args = [] if a.full else QUICK.get(name, [])
            for i, tree in order:
                which = "old" if i == 0 else "new"
                print(f"round {r + 1}: {name} on {which}", flush=True)
                out = run_one(tree, name, kind, args, log)
                (where / f"{name}.{which}.{r + 1}.txt").write_text(out)
                results[name][i].append(out)
    print(f"\nold -> new (new / old), medians of {a.rounds} round(s); stderr in {log}")
    for name in both:
        compare(name, *results[name], a.noise)
    return 0


if __name__ == "__main__":
    sys.exit(main())
