#!/usr/bin/env bash
# The README's first command: set up (idempotent), then run the main job.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
VENV=${CONTRASTIVE_VLA_VENV:-$(pwd)/.venv}
CLI="$VENV/bin/contrastive-vla"
echo '[demo] The simulated ROS demo is not built yet; running the end-to-end job that exists:'
echo '[demo] an installation check and a tour of the motion-primitive vocabulary.'
"$CLI" doctor
"$CLI" vocab list | head -12
echo '  ...'
"$CLI" vocab lookup 'shift the gripper to the left by 50 mm'
"$CLI" vocab discretize 0.0 0.06 0.0 0 0 0 0
"$CLI" vocab compose left_5cm left_5cm down_10cm close_gripper
