#!/usr/bin/env bash
# The image checked in a real Docker engine, on a machine with no image registry and no network
# but loopback for the containers. Run by hand (not by npm test), as root, from a clone with
# `npm ci` done and Java on the PATH (the test broker):
#
#   sudo k8s/image/smoke.sh
#
# 1. Starts a Docker engine of its own (unless DOCKER_HOST names one that answers): its data and
#    sockets in a temp dir, no bridge (--bridge=none: no docker0, nothing on 172.17.0.0/16), no
#    iptables or masquerading changes; every build and container uses --network host.
# 2. Makes the Node.js base image from Debian packages (k8s/image/base-from-debootstrap.sh),
#    unless TRACKHOUSE_NODE_IMAGE names one already.
# 3. `npm run image-smoke` (chaos/image.ts): builds the Dockerfile with that base, runs --help,
#    migrate, start, sink, query, alerts, ingest and replay in containers hardened as the
#    manifests run them, against a Kafka broker and ClickHouse-over-HTTP (chDB) on loopback; one
#    event in through ingest, out through query and alerts; checks every container socket is on
#    loopback; SIGTERM exits 0.
# 4. Stops the engine by its PID and removes its data (images included).
#
# Settings: DOCKERD, DOCKER (binaries; default from the PATH), DOCKERD_OPTS (extra daemon flags,
# e.g. --storage-driver=vfs where overlayfs is missing), SMOKE_DIR (the engine's dir), and those
# of base-from-debootstrap.sh. About 5-10 minutes (debootstrap, npm ci in the build).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
export DOCKER=${DOCKER:-docker}
DOCKERD=${DOCKERD:-dockerd}

echo "== host network before: $(ip -4 -o addr | awk '{print $2" "$4}' | paste -sd, -)"
own_engine=
if [[ -n ${DOCKER_HOST:-} ]] && "$DOCKER" version --format '{{.Server.Version}}' >/dev/null 2>&1; then
  echo "== using the engine at DOCKER_HOST=$DOCKER_HOST"
else
  [[ $(id -u) -eq 0 ]] || { echo "smoke.sh: needs root to start a Docker engine" >&2; exit 1; }
  work=${SMOKE_DIR:-$(mktemp -d /var/tmp/trackhouse-docker.XXXXXX)}
  mkdir -p "$work"
  own_engine=1
  stop_engine() {
    local pid
    pid=$(cat "$work/dockerd.pid" 2>/dev/null || true)
    if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
      kill "$pid"
      for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    fi
    # dockerd leaves its network namespace (exec/netns/default) and the data root bind-mounted.
    awk -v w="$work" '$2 == w || index($2, w "/") == 1 { print $2 }' /proc/mounts | sort -r | while read -r m; do
      umount "$m" 2>/dev/null || umount -l "$m"
    done
    rm -rf "$work"
    # Fixed paths dockerd and containerd's shims create whatever the exec root; removed only if
    # empty (an engine of the system's own keeps its files there).
    rmdir /run/containerd/s /run/containerd /run/docker/plugins /run/docker 2>/dev/null || true
  }
  trap stop_engine EXIT
  # shellcheck disable=SC2086
  "$DOCKERD" --data-root "$work/data" --exec-root "$work/exec" --pidfile "$work/dockerd.pid" \
    -H "unix://$work/docker.sock" --bridge=none --iptables=false --ip6tables=false --ip-masq=false \
    ${DOCKERD_OPTS:-} >"$work/dockerd.log" 2>&1 &
  export DOCKER_HOST=unix://$work/docker.sock
  for _ in $(seq 60); do "$DOCKER" version >/dev/null 2>&1 && break; sleep 0.5; done
  "$DOCKER" version --format 'engine {{.Server.Version}} (pid '"$(cat "$work/dockerd.pid")"', data in '"$work"')' \
    || { tail -30 "$work/dockerd.log" >&2; echo "smoke.sh: the Docker engine did not start (log above)" >&2; exit 1; }
  echo "   storage driver $("$DOCKER" info --format '{{.Driver}}'), cgroup driver $("$DOCKER" info --format '{{.CgroupDriver}}'), networks: $("$DOCKER" network ls --format '{{.Name}}' | paste -sd, -)"
fi

if [[ -z ${TRACKHOUSE_NODE_IMAGE:-} ]]; then
  export TRACKHOUSE_NODE_IMAGE=trackhouse-base:smoke
  "$root/k8s/image/base-from-debootstrap.sh" "$TRACKHOUSE_NODE_IMAGE"
fi

cd "$root"
status=0
npm run image-smoke || status=$?
echo "== host network after: $(ip -4 -o addr | awk '{print $2" "$4}' | paste -sd, -); routes: $(ip -4 route | paste -sd, -)"
exit $status
