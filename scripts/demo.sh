#!/usr/bin/env bash
# The README's first command: set up (idempotent), then run the main job: the ROS 2 node graph
# on the simulator (simulator, instruction listener, VLA, arm bridge: one process each) doing
# every task of the suite from instructions sent on the `instruction` topic.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
VENV=${CONTRASTIVE_VLA_VENV:-$(pwd)/.venv}
CLI="$VENV/bin/contrastive-vla"
OUT=${DEMO_OUT:-outputs/demo}
EPISODES=${DEMO_EPISODES:-1}
MODEL=${DEMO_MODEL:-clip_rt_default}
# keep the demo graph on this machine unless the caller chose otherwise
export ROS_AUTOMATIC_DISCOVERY_RANGE=${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}
"$CLI" doctor
echo "[demo] the ROS 2 graph on the simulator with $MODEL: $EPISODES episode(s) per task;"
echo "[demo] videos in $OUT/videos, summary in $OUT/demo.json"
"$CLI" demo --model "$MODEL" --tasks all --episodes "$EPISODES" --seed 0 \
  --real-time-factor "${DEMO_RTF:-1.0}" --video "$OUT/videos" --json "$OUT/demo.json"
echo "[demo] done: summary in $OUT/demo.json, videos in $OUT/videos/"
