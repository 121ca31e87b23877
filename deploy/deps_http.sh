#!/usr/bin/env bash
# What the HTTP API needs beyond deploy/deps.sh:
#   - Swagger UI for the dispatcher's /docs: swagger-ui-dist from npm, pinned,
#     installed into .deps/ beside the build (the dispatcher finds it there,
#     or at --http-docs-dir). Nothing is fetched at run time.
#   - for the tests (tests/http): Debian's chromium (the page in a real
#     browser), and openapi-spec-validator and openapi-python-client (PyPI)
#     in .venv-http.
# Idempotent: what is there already is kept. `--runtime` installs only Swagger UI.
set -euo pipefail
cd "$(dirname "$0")/.."
SWAGGER_UI=5.35.0
PY_PKGS=(openapi-spec-validator==0.9.0 openapi-python-client==0.29.1)

ui=.deps/node_modules/swagger-ui-dist
if ! { [ -f "$ui/swagger-ui-bundle.js" ] && grep -q "\"version\": \"$SWAGGER_UI\"" "$ui/package.json"; }; then
  command -v npm >/dev/null || { echo "deps_http: npm is needed (apt-get install npm)" >&2; exit 1; }
  mkdir -p .deps
  [ -f .deps/package.json ] || echo '{"name": "llmrepl-deps", "private": true}' > .deps/package.json
  npm install --prefix .deps --save-exact --no-audit --no-fund --silent "swagger-ui-dist@$SWAGGER_UI"
  test -f "$ui/swagger-ui-bundle.js"
fi
[ "${1:-}" = "--runtime" ] && exit 0

if ! command -v chromium >/dev/null; then
  echo "deps_http: installing chromium" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi

if ! .venv-http/bin/python -c "import openapi_spec_validator, openapi_python_client" 2>/dev/null; then
  /usr/bin/python3 -m venv .venv-http
  .venv-http/bin/pip install -q "${PY_PKGS[@]}"
fi
