#!/usr/bin/env bash
# Side by side on the same reach demonstrations and the same training budget: the default
# (FiLM fusion, ranking primitives), the paper's additive context, the regression head
# (CLIP-RT-Action), the default without the CLIP-RT augmentation (recovery pairs), and the
# default with the pretrained sentence encoder all-MiniLM-L6-v2 (frozen) as its text tower.
#
#   bash scripts/ablations.sh [EPOCHS] [OUT]
#
# Needs data/reach_v3 (collect --augment recovery) and data/reach_v3_noaug (--augment none),
# both 3,000 reach_block episodes from seed 400000; collects them when missing. Each variant
# trains EPOCHS epochs from scratch, then eval-sim runs the same 50 reach episodes (seeds 0-49),
# with the training templates and with config/instructions_unseen.yaml (wordings never trained
# on). Variants already measured in OUT are skipped, so an interrupted run can be restarted.
set -euo pipefail
cd "$(dirname "$0")/.."
EPOCHS=${1:-12}
OUT=${2:-runs/ablations}
# shellcheck disable=SC1091
source .venv/bin/activate
for aug in recovery none; do
    dir=data/reach_v3; [ "$aug" = none ] && dir=data/reach_v3_noaug
    [ -f "$dir/collect_manifest.jsonl" ] || contrastive-vla collect --tasks reach_block \
        --episodes-per-task 3000 --out "$dir" --seed 400000 --augment "$aug" --workers 2 \
        --no-progress
done
mkdir -p "$OUT"
run() {  # name config data
    if [ ! -f "$OUT/$1.json" ]; then
        contrastive-vla train --data "$3" --config "$2" --out "$OUT/$1" --epochs "$EPOCHS" \
            --batch-size 64 --lr 0.001 --eval-every "$EPOCHS" --eval-tasks reach_block \
            --eval-episodes 10 --threads 2 --no-progress > "$OUT/$1.log" 2>&1
        contrastive-vla eval-sim --policy "$OUT/$1/best" --tasks reach_block --episodes 50 \
            --seed 0 --workers 2 --no-progress --json "$OUT/$1.json" >> "$OUT/$1.log" 2>&1
    fi
    [ -f "$OUT/$1_unseen.json" ] || contrastive-vla eval-sim --policy "$OUT/$1/best" \
        --tasks reach_block --episodes 50 --seed 0 --workers 2 --no-progress \
        --instructions config/instructions_unseen.yaml --json "$OUT/$1_unseen.json" \
        >> "$OUT/$1.log" 2>&1
}
run film clip_rt_small data/reach_v3
run additive clip_rt_small_additive data/reach_v3
run regress clip_rt_small_regress data/reach_v3
run film_noaug clip_rt_small data/reach_v3_noaug
run minilm clip_rt_small_minilm data/reach_v3
python - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
for name in ('film', 'additive', 'regress', 'film_noaug', 'minilm'):
    try:
        d = json.load(open(f'{out}/{name}.json'))
        u = json.load(open(f'{out}/{name}_unseen.json'))
        s = json.load(open(f'{out}/{name}/summary.json'))
    except FileNotFoundError:
        continue
    print(f"{name:12s} reach success {d['success_rate']:.0%} (CI {d['ci95'][0]:.2f}-"
          f"{d['ci95'][1]:.2f}), unseen wordings {u['success_rate']:.0%}  held-out top-1 "
          f"{s['final_val']['accuracy']:.3f}  train {s['train_seconds'] / 60:.1f} min")
PY
