#!/usr/bin/env bash
# Builds the browser app (web/ → web/dist/), which the binary serves and, in release
# builds, embeds. Installs Node.js and the app's npm packages when missing; npm packages
# are reinstalled only when package-lock.json changed.
set -euo pipefail
cd "$(dirname "$0")/../web"

log() { echo "[web] $*" >&2; }

if ! command -v npm >/dev/null; then
    log "apt-get install nodejs npm"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >&2
fi
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    log "npm ci"
    npm ci --no-audit --no-fund --loglevel=error >&2
fi
log "npm run build"
npm run --silent build >&2
