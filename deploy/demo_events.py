#!/usr/bin/env python3
"""Formatting for deploy/demo.sh (standard library only).

  demo_events.py --events JSON STATE LAST   print the events of one
      `redis-cli --json XREAD ... STREAMS <key> LAST` reply, one line each, and
      write "<last id> <1 if the job is final, else 0>" to STATE
  demo_events.py --report < RESULT     print a loop job's result JSON briefly
"""
import json
import sys

FINAL = {"done", "cancelled", "rejected", "dead"}


def events(reply, state, prev):
    data = json.loads(reply)
    last, final = prev, 0
    for entries in (data or {}).values():
        for eid, flat in entries:
            f = dict(zip(flat[0::2], flat[1::2]))
            last = eid
            t = f.get("type", "?")
            what = f.get("msg") or f.get("summary") or f.get("reason") or f.get("error") or ""
            if t == "iteration":
                what = f"#{f.get('n')} {what}"
            elif t == "running":
                what = f"attempt {f.get('attempt')} on {f.get('worker', '?')}"
            print(f"  {eid}  {t:<10} {what}", flush=True)
            final = final or t in FINAL
    with open(state, "w") as out:
        out.write(f"{last} {int(final)}\n")


def report(text):
    r = json.loads(text)
    print(f"  passed: {r.get('passed')}   stop_reason: {r.get('stop_reason')}   "
          f"iterations: {r.get('iterations')}   accepted: {r.get('accepted_iteration')}")
    print(f"  tests: {r.get('tests_passed')}/{r.get('tests_total')}   score: {r.get('score')}   "
          f"tokens: {r.get('tokens_total')}   loop time: {r.get('elapsed_s')} s")
    rf = r.get("refactor") or {}
    print(f"  refactor: {rf.get('status')}" + (f" ({rf['reason']})" if rf.get("reason") else ""))
    for h in r.get("history") or []:
        print(f"    #{h['n']} {h['phase']:<9} {'pass' if h['passed'] else 'fail'}  "
              f"{h['commit'][:10]}  {h['summary'][:90]}")
    if not r.get("passed") and r.get("feedback"):
        print("  feedback for the next repair:")
        for line in r["feedback"].splitlines()[:8]:
            print("    " + line)


def main():
    if sys.argv[1:2] == ["--events"] and len(sys.argv) == 5:
        events(sys.argv[2], sys.argv[3], sys.argv[4])
    elif sys.argv[1:] == ["--report"]:
        report(sys.stdin.read())
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
