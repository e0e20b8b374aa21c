#!/usr/bin/env bash
# Set up everything a pip-only machine needs, idempotently: rendering libraries (Debian), a
# project-local virtual environment in .venv with the pinned dependencies, and the package itself
# (editable). A second run with nothing changed takes about a second.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV=${CONTRASTIVE_VLA_VENV:-$ROOT/.venv}
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3

log() { printf '[setup] %s\n' "$*" >&2; }

# 1. System libraries for headless MuJoCo rendering (EGL with Mesa; OSMesa as the fallback).
need_pkgs=()
for pkg in libegl1 libgl1 libgl1-mesa-dri libosmesa6; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' \
    || need_pkgs+=("$pkg")
done
if [ ${#need_pkgs[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    log "installing rendering libraries: ${need_pkgs[*]}"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      --no-install-recommends "${need_pkgs[@]}" >/dev/null) \
      || log "WARNING: apt-get failed; simulator rendering may not work"
  else
    log "WARNING: missing ${need_pkgs[*]} (install them with apt-get as root for rendering)"
  fi
fi

# 2. The virtual environment, re-synced only when the pins or the package metadata change.
stamp_src=$(cat requirements/pip-only.txt requirements/no-deps.txt setup.py setup.cfg scripts/setup.sh | sha256sum | cut -c1-16)
stamp_file=$VENV/.contrastive_vla-setup
if [ -f "$stamp_file" ] && [ "$(cat "$stamp_file")" = "$stamp_src" ] \
    && "$VENV/bin/python" -c 'import contrastive_vla' 2>/dev/null; then
  exit 0
fi
if [ ! -x "$VENV/bin/python" ]; then
  log "creating $VENV with $("$PY" --version)"
  "$PY" -m venv "$VENV"
fi
start=$(date +%s)
log 'installing pinned dependencies (requirements/pip-only.txt)'
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -r requirements/pip-only.txt
"$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps -r requirements/no-deps.txt
"$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .

# 3. torchvision compatibility hook (see contrastive_vla/model/compat.py), for this venv only, so that
#    a plain `import open_clip` works without extra environment variables.
site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo 'import contrastive_vla.model.compat as _cvla; _cvla.install_torchvision_import_hook()' \
  > "$site/zz_contrastive_vla_compat.pth"

"$VENV/bin/python" -c 'import rclpy, torch, open_clip, mujoco, cv2, rosbags' \
  || { log 'ERROR: the environment does not import; see above'; exit 1; }
echo "$stamp_src" > "$stamp_file"
log "environment ready in $(( $(date +%s) - start )) s ($(du -sh "$VENV" | cut -f1))"
