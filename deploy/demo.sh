#!/usr/bin/env bash
# The quick start (`make demo`): install what is missing, build, start Redis,
# the bundled small model, the dispatcher and two workers on private loopback
# ports in a temporary directory, submit one `loop` job with redis-cli, follow
# its events until it is final, print the final code, the report and the
# job's git history, run the code once more through the HTTP API
# (POST /evaluate), then stop everything this script started.
#
# Settings (environment): DEMO_KEEP=1 keeps the temporary directory (logs,
# Redis data, the exported repository); DEMO_SPEC=<json> submits another job.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PREFIX=llmrepl:
MODEL=${LLM_MODEL:-smollm2}

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "dependencies, build, model (each step skips what is already done)"
bash deploy/deps.sh
make -s -j"$(nproc)" all
make -s model

TMP=$(mktemp -d /tmp/llmrepl-demo.XXXXXX)
PIDS=()
cleanup() {
	local rc=$?
	# Stop what this script started, newest first, by pid.
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
		kill -TERM "${PIDS[i]}" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
	done
	if [ "$rc" -ne 0 ]; then
		echo "demo failed (exit $rc); logs:" >&2
		for f in "$TMP"/*.log; do [ -f "$f" ] && { echo "--- $f" >&2; tail -n 20 "$f" >&2; }; done
	fi
	if [ "${DEMO_KEEP:-0}" = 1 ]; then
		echo "(kept $TMP)"
	else
		rm -rf "$TMP"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
RPORT=$(free_port)
MPORT=$(free_port)
HPORT=$(free_port)
cli() { redis-cli -p "$RPORT" "$@"; }

say "starting redis-server on 127.0.0.1:$RPORT and the model ($MODEL) on 127.0.0.1:$MPORT"
mkdir -p "$TMP/redis"
redis-server --port "$RPORT" --bind 127.0.0.1 --dir "$TMP/redis" --save "" \
	--appendonly yes --protected-mode yes --loglevel warning \
	--hash-max-listpack-value 4096 >"$TMP/redis.log" 2>&1 &
PIDS+=($!)
SERVER_ARGS=$(.venv/bin/python deploy/model_path.py --server-args "$MODEL")
# One core stays with the workers and the sandbox: llama.cpp's threads spin on
# each other, and on an oversubscribed machine two of them are slower than one.
THREADS=$(($(nproc) > 1 ? $(nproc) - 1 : 1))
# shellcheck disable=SC2086 # the arguments are words
.venv/bin/python -m llama_cpp.server $SERVER_ARGS \
	--host 127.0.0.1 --port "$MPORT" --n_ctx 4096 --n_threads "$THREADS" \
	--verbose false >"$TMP/model.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do [ "$(cli PING 2>/dev/null)" = PONG ] && break; sleep 0.1; done
[ "$(cli PING 2>/dev/null)" = PONG ] || { echo "redis-server did not start" >&2; exit 3; }
for _ in $(seq 300); do curl -sf "http://127.0.0.1:$MPORT/v1/models" >/dev/null && break; sleep 0.5; done
curl -sf "http://127.0.0.1:$MPORT/v1/models" >/dev/null || { echo "the model server did not start" >&2; exit 3; }

export LLMREPL_REDIS_URL="redis://127.0.0.1:$RPORT" LLMREPL_PREFIX="$PREFIX"
export LLMREPL_LLM_URL="http://127.0.0.1:$MPORT/v1" LLMREPL_MODEL="$MODEL"
export LLMREPL_LLM_MAX_TOKENS=512 LLMREPL_LOG_LEVEL=info
say "starting the dispatcher (HTTP API on 127.0.0.1:$HPORT, Swagger UI at /docs) and two workers"
build/llmrepl-dispatcher --name demo-dispatcher --http-listen "127.0.0.1:$HPORT" \
	>"$TMP/dispatcher.log" 2>&1 &
PIDS+=($!)
for w in 1 2; do
	build/llmrepl-worker --name "demo-worker$w" >"$TMP/worker$w.log" 2>&1 &
	PIDS+=($!)
done

SPEC=${DEMO_SPEC:-$(python3 - <<'PY'
import json
print(json.dumps({
    "kind": "loop",
    "prompt": "Write a Python function is_even(n) that returns True if n is even, else False.",
    "tests": ["assert is_even(2)", "assert not is_even(3)", "assert is_even(0)",
              "assert not is_even(-7)"],
    "entry_point": "is_even",
    "max_iterations": 4,
    "refactor": True,
}))
PY
)}
say "submitting a loop job"
echo "\$ redis-cli XADD ${PREFIX}requests '*' spec '$SPEC'"
ID=$(cli XADD "${PREFIX}requests" '*' spec "$SPEC")
echo "$ID"

say "following its events: redis-cli XREAD BLOCK 5000 STREAMS ${PREFIX}job:$ID:events <last id>"
LAST=0
FINAL=0
DEADLINE=$((SECONDS + ${DEMO_TIMEOUT:-900}))
while [ "$FINAL" = 0 ] && [ "$SECONDS" -lt "$DEADLINE" ]; do
	OUT=$(cli --json XREAD BLOCK 5000 STREAMS "${PREFIX}job:$ID:events" "$LAST")
	[ "$OUT" = null ] || [ -z "$OUT" ] && continue
	python3 deploy/demo_events.py --events "$OUT" "$TMP/follow" "$LAST"
	read -r LAST FINAL <"$TMP/follow"
done
[ "$FINAL" = 1 ] || { echo "the job did not finish in time" >&2; exit 4; }

say "final code (HGET ${PREFIX}job:$ID code)"
cli --raw HGET "${PREFIX}job:$ID" code
say "report (HGET ${PREFIX}job:$ID result)"
cli --raw HGET "${PREFIX}job:$ID" result | python3 deploy/demo_events.py --report
say "git history: build/llmrepl log $ID"
build/llmrepl log "$ID"
say "exported: build/llmrepl export $ID $TMP/repo; git log"
build/llmrepl export "$ID" "$TMP/repo" >/dev/null
git -C "$TMP/repo" --no-pager log --stat --decorate --format='%h%d %s%n%b'
git -C "$TMP/repo" fsck --strict >/dev/null 2>&1 && echo "(git fsck: clean)"
say "the same code through the HTTP API: curl -X POST http://127.0.0.1:$HPORT/evaluate"
BODY=$(cli --raw HGET "${PREFIX}job:$ID" result | python3 -c '
import json, sys
r = json.load(sys.stdin)
spec = json.loads(sys.argv[1])
body = {"code": r.get("code") or "", "tests": spec.get("tests", [])}
if spec.get("entry_point"):
    body["entry_point"] = spec["entry_point"]
print(json.dumps(body))' "$SPEC")
curl -sS -X POST "http://127.0.0.1:$HPORT/evaluate" -H 'Content-Type: application/json' \
	-d "$BODY" | python3 -c '
import json, sys
r = json.load(sys.stdin)
print({k: r.get(k) for k in ("success", "output", "error", "job_id")})'
say "done; stopping everything the demo started"
