"""HumanEval through the harness itself: canonical solutions pass, bare prompts
fail, mutated solutions fail on the right test."""
from evalkit import case, run_harness


def _req(p, body, **kw):
    r = {"mode": "evaluate", "code": p["prompt"] + body, "tests": p["test"],
         "entry_point": p["entry_point"]}
    r.update(kw)
    return r


def _problem(humaneval, n):
    return humaneval[n]


def test_all_canonical_solutions_pass(humaneval):
    answers = run_harness([_req(p, p["canonical_solution"]) for p in humaneval])
    bad = [(p["task_id"], a["status"], a["error"]) for p, a in zip(humaneval, answers)
           if not (a["status"] == "ok" and a["tests_total"] > 0
                   and a["tests_passed"] == a["tests_total"])]
    assert bad == []


def test_bare_prompts_fail(humaneval):
    answers = run_harness([_req(p, "", static=False) for p in humaneval])
    passing = [p["task_id"] for p, a in zip(humaneval, answers)
               if a["status"] == "ok" or a["tests_passed"] == a["tests_total"]]
    assert passing == []


def _mutant(p, old, new):
    sol = p["canonical_solution"]
    assert old in sol, (p["task_id"], old)
    return sol.replace(old, new, 1)


def test_mutants_fail_on_the_right_test(humaneval):
    strlen = humaneval[23]
    trunc = humaneval[2]
    mad = humaneval[4]
    gcd = humaneval[13]
    reqs = [
        _req(strlen, _mutant(strlen, "return len(string)",
                             "return len(string) - (1 if len(string) > 5 else 0)")),
        _req(trunc, _mutant(trunc, "number % 1.0", "number // 1.0")),
        _req(mad, _mutant(mad, "sum(numbers) / len(numbers)",
                          "sum(numbers) / (len(numbers) - 4)")),
        _req(gcd, _mutant(gcd, "a, b = b, a % b", "a, b = (b, a % b) if a != 10 else (a, b)"),
             test_timeout_s=0.5),
    ]
    a_strlen, a_trunc, a_mad, a_gcd = run_harness(reqs)

    # strlen: only the long string fails, with the values.
    assert (a_strlen["tests_total"], a_strlen["tests_passed"]) == (3, 2)
    bad = case(a_strlen, "candidate('asdasnakj')")
    assert bad["assertion"]["call"] == "strlen('asdasnakj')"
    assert (bad["assertion"]["actual"], bad["assertion"]["expected"]) == ("8", "9")

    # truncate_number: every line fails; the first shows both sides.
    assert a_trunc["tests_passed"] == 0
    first = case(a_trunc, "candidate(3.5) == 0.5")
    assert (first["assertion"]["actual"], first["assertion"]["expected"]) == ("3.0", "0.5")
    close = case(a_trunc, "candidate(1.33)")
    assert close["assertion"]["call"] == "truncate_number(1.33)"
    assert close["assertion"]["actual"] == "1.0"

    # mean_absolute_deviation: the 4-element list divides by zero on the mutated line.
    zero = case(a_mad, "candidate([1.0, 2.0, 3.0, 4.0])")
    assert zero["status"] == "error" and zero["error"]["type"] == "ZeroDivisionError"
    line = mad["prompt"].count("\n") + 1
    assert zero["error"]["solution_line"] == line
    assert case(a_mad, "candidate([1.0, 2.0, 3.0])")["status"] == "failed"

    # gcd: hangs for a == 10 only; the other asserts still pass.
    assert (a_gcd["tests_total"], a_gcd["tests_passed"]) == (4, 3)
    assert case(a_gcd, "candidate(10, 15)")["status"] == "timeout"
