#!/usr/bin/env python3
"""List the C functions (outside tests and benchmarks) longer than a limit.

Usage: function_size.py [--max N] [--strict] DIR...

The tree's style (a function's braces in column 0) makes this a matter of
lines, not parsing. A function may stay longer when a comment in the line
before it says why it reads better whole ("reads better whole"); with
--strict any other exits 1.
"""
import argparse
import pathlib
import re
import sys

NAME = re.compile(r"(\w+)\s*\(")


def functions(path):
    lines = path.read_text(errors="replace").split("\n")
    i = 0
    while i < len(lines):
        if lines[i] == "{" and i > 0:
            j = i - 1
            while j > 0 and lines[j - 1].strip() and not lines[j - 1].startswith(
                    ("}", "#", "/*", " *")) and not lines[j - 1].endswith(";"):
                j -= 1
            sig = " ".join(x.strip() for x in lines[j:i])
            k = i + 1
            while k < len(lines) and lines[k] != "}":
                k += 1
            m = NAME.search(sig)
            if m and "=" not in sig.split("(")[0]:
                note = "reads better whole" in " ".join(lines[max(0, j - 3):j])
                yield m.group(1), j + 1, k - i + 1, note
            i = k
        i += 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--max", type=int, default=100)
    ap.add_argument("--strict", action="store_true")
    ap.add_argument("dirs", nargs="+")
    a = ap.parse_args()
    bad = 0
    for d in a.dirs:
        for f in sorted(pathlib.Path(d).glob("*.c")):
            for name, line, n, note in functions(f):
                if n > a.max:
                    print(f"{f}:{line}: {name} is {n} lines{' (noted)' if note else ''}")
                    bad += not note
    print(f"function_size: {bad} function(s) over {a.max} lines without a note")
    return 1 if a.strict and bad else 0


if __name__ == "__main__":
    sys.exit(main())
