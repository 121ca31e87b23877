#!/usr/bin/python3
"""bench/sbx_trace.py - the median of each phase in LLMREPL_SBX_TRACE lines.

    LLMREPL_SBX_TRACE=1 build/bench/sandbox --runs 100 2>trace.txt
    python3 bench/sbx_trace.py trace.txt

Reads "sbx-trace <kind> total=<us> <phase>=<us> ..." lines (sandbox/sbx_trace.h)
and the queue's "job-trace <what> ..." lines (LLMREPL_JOB_TRACE=1, common/trace.h)
and prints, per kind, each phase's median and the runs it appeared in, in the
order phases usually happen."""
import statistics
import sys


def main(paths):
    kinds = {}
    for path in paths or ["-"]:
        f = sys.stdin if path == "-" else open(path)
        for line in f:
            words = line.split()
            if len(words) < 3 or words[0] not in ("sbx-trace", "job-trace"):
                continue
            phases = kinds.setdefault(words[1], {})
            for pos, w in enumerate(words[2:]):
                name, _, val = w.partition("=")
                ent = phases.setdefault(name, [[], []])
                ent[0].append(int(val))
                ent[1].append(pos)
    for kind, phases in kinds.items():
        runs = len(phases["total"][0])
        print("%s (%d runs): median us per phase" % (kind, runs))
        order = sorted(phases, key=lambda n: statistics.median(phases[n][1]))
        for name in order:
            vals = phases[name][0]
            print("  %-12s %8.0f%s" % (name, statistics.median(vals),
                                      "" if len(vals) == runs else "  (%d runs)" % len(vals)))


if __name__ == "__main__":
    main(sys.argv[1:])
