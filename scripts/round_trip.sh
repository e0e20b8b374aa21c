#!/usr/bin/env bash
# Teach the shipped model a new task by language teleoperation, then measure it before and after.
#
#   bash scripts/round_trip.sh [MODEL] [EPISODES] [OUT]
#
# 1. teleop: the scripted operator talks the simulated arm through EPISODES episodes of
#    lift_block_high (config/tasks_new_example.yaml) in casual sentences -> bags in OUT/bags;
# 2. eval-sim of MODEL on lift_block_high and lift_block (20 episodes each, seeds 0-19);
# 3. train --init MODEL on the teleop bags only (fine-tuning);
# 4. eval-sim of the fine-tuned model on the same episodes.
# The two eval JSONs land in OUT (before.json, after.json); nothing is written to models/.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:-models/clip_rt_default}
EPISODES=${2:-10}
OUT=${3:-runs/round_trip}
export CONTRASTIVE_VLA_TASKS=config/tasks_new_example.yaml
TASKS=lift_block_high,lift_block
# shellcheck disable=SC1091
source .venv/bin/activate

rm -rf "$OUT/bags"
mkdir -p "$OUT"
contrastive-vla teleop --task lift_block_high --operator scripted --episodes "$EPISODES" \
    --seed 900000 --out "$OUT/bags" > "$OUT/teleop.log"
tail -n 2 "$OUT/teleop.log"
contrastive-vla eval-sim --policy "$MODEL" --tasks "$TASKS" --episodes 20 --seed 0 \
    --workers 2 --json "$OUT/before.json"
contrastive-vla train --data "$OUT/bags" --init "$MODEL" --out "$OUT/finetune" --epochs 20 \
    --batch-size 16 --lr 5e-4 --val-fraction 0 --eval-every 5 --eval-tasks lift_block_high \
    --eval-episodes 5 --threads 2 --no-progress
contrastive-vla eval-sim --policy "$OUT/finetune/best" --tasks "$TASKS" --episodes 20 --seed 0 \
    --workers 2 --json "$OUT/after.json"
python - "$OUT" <<'EOF'
import json, sys
out = sys.argv[1]
for name in ('before', 'after'):
    d = json.load(open(f'{out}/{name}.json'))
    per = {t: v['success_rate'] for t, v in d['per_task'].items()}
    print(f'{name}: {per}')
EOF
