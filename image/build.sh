#!/bin/sh
# Build the Threatwatch image with buildah, without a Docker daemon or a registry.
#
#   image/build.sh [TAG]        (make image)
#
# With no registry to pull python:3.11-slim from, the base image is made from Debian packages
# (mmdebstrap, bookworm, minbase + python3.11, python3.11-venv, ca-certificates) once and kept
# as localhost/threatwatch-base:bookworm. BASE=<image> uses another base instead.
# The torch CPU wheel comes from $WHEELS (default /opt/wheels) when it is there; pip trusts
# $CA_BUNDLE (default: the host's bundle) during the build only.
set -eu
TAG=${1:-localhost/threatwatch:latest}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
WHEELS=${WHEELS:-/opt/wheels}
CA_BUNDLE=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
BASE_TAG=localhost/threatwatch-base:bookworm
export STORAGE_DRIVER=${STORAGE_DRIVER:-vfs}
export BUILDAH_ISOLATION=${BUILDAH_ISOLATION:-chroot}

command -v buildah >/dev/null || { echo "image: buildah is needed (apt-get install -y buildah)" >&2; exit 1; }

cp "$CA_BUNDLE" "$HERE/ca.crt"
rm -f "$HERE"/wheels/torch-*.whl
for wheel in "$WHEELS"/torch-2.13.0+cpu-*.whl; do
    [ -f "$wheel" ] && ln "$wheel" "$HERE/wheels/" 2>/dev/null || { [ -f "$wheel" ] && cp "$wheel" "$HERE/wheels/"; }
done

if [ -z "${BASE:-}" ]; then
    BASE=$BASE_TAG
    if ! buildah inspect --type image "$BASE_TAG" >/dev/null 2>&1; then
        command -v mmdebstrap >/dev/null || { echo "image: mmdebstrap is needed (apt-get install -y mmdebstrap)" >&2; exit 1; }
        rootfs=$(mktemp -d)/rootfs.tar
        echo "image: making $BASE_TAG from Debian packages ($MIRROR)"
        mmdebstrap --variant=minbase --include=python3.11,python3.11-venv,ca-certificates \
            --aptopt='Acquire::Retries "3"' \
            --customize-hook='rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/*' \
            bookworm "$rootfs" "$MIRROR"
        ctr=$(buildah from scratch)
        buildah add "$ctr" "$rootfs" /
        buildah config --env LANG=C.UTF-8 --cmd /bin/bash "$ctr"
        buildah commit --rm "$ctr" "$BASE_TAG"
        rm -rf "$(dirname "$rootfs")"
    fi
fi

buildah bud --format docker --layers --build-arg "BASE=$BASE" -t "$TAG" -f "$ROOT/Dockerfile" "$ROOT"
rm -f "$HERE/ca.crt" "$HERE"/wheels/torch-*.whl
buildah images --format '{{.Name}}:{{.Tag}} {{.Size}}' "$TAG"
