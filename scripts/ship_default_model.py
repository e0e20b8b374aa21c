#!/usr/bin/env python3
"""Copy a trained run's best checkpoint into models/clip_rt_default (float16 weights).

Usage: python scripts/ship_default_model.py RUN_DIR --collect "COMMAND" [--before "CMD" ...]
       [--notes TEXT] [EVAL_JSON ...]
Writes models/clip_rt_default/{config.json, model.safetensors, vocabulary.yaml, meta.json} and
a README.md recording how the model was made (from RUN_DIR/summary.json, metrics.jsonl and the
eval-sim JSON files given).
"""

import argparse
import json
from pathlib import Path

from contrastive_vla.model.policy import load_model, save_checkpoint
from contrastive_vla.training.config import load_recipe

ROOT = Path(__file__).resolve().parent.parent
# The card records how this checkpoint was made; the story behind it lives in the docs.
HISTORY = ['How this model was found (the stages, what made the difference, the failure '
           'analyses, what was',
           'tried and not shipped, the ablations): '
           '[docs/model-history.md](../../docs/model-history.md);',
           'how to use it: the [README](../../README.md).']


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('run', type=Path, help='training run directory (its best/ is shipped)')
    parser.add_argument('evals', nargs='*', help='eval-sim JSON files of that checkpoint')
    parser.add_argument('--collect', required=True,
                        help='the collect command that made the training data (recorded)')
    parser.add_argument('--before', action='append', default=[],
                        help='a command that made the --init checkpoint (repeatable; recorded '
                             'in order before the final training command)')
    parser.add_argument('--notes', default='', help='a paragraph for the model README')
    parser.add_argument('--checkpoint', default='best', choices=('best', 'last'),
                        help='which checkpoint of the run (best: by the closed-loop check)')
    args = parser.parse_intermixed_args()
    run = args.run
    evals = []  # a file holds one evaluation, or a list (eval-sim with several --instructions)
    for path in args.evals:
        loaded = json.loads(Path(path).read_text())
        evals += [e | {'file': Path(path).name}
                  for e in (loaded if isinstance(loaded, list) else [loaded])]
    model, vocab, meta = load_model(run / args.checkpoint)
    summary = json.loads((run / 'summary.json').read_text())
    rows = [json.loads(line) for line in (run / 'metrics.jsonl').read_text().splitlines()]
    out = ROOT / 'models' / 'clip_rt_default'
    meta = dict(meta, training_summary=summary,
                evaluations=[{k: e[k] for k in ('policy', 'success_rate', 'ci95', 'episodes',
                                                'instructions', 'file') if k in e}
                             | {'per_task': {t: r['success_rate']
                                             for t, r in e['per_task'].items()}}
                             for e in evals])
    save_checkpoint(out, model, vocab, meta=meta, half=True)
    # 'model' is the architecture's name (runs before TrainingConfig kept it in 'config')
    config_name = summary.get('model') or summary['config']
    init = f' --init {summary["init"]}' if summary.get('init') else ''
    if summary.get('new_lr_scale', 1) != 1:
        init += f' --new-lr-scale {summary["new_lr_scale"]:g}'
    if summary.get('instruction_noise'):
        init += f' --instruction-noise {summary["instruction_noise"]:g}'
    if summary.get('val_episodes'):
        init += f' --val-episodes {summary["val_episodes"]}'
    train_command = (f'contrastive-vla train --data {" ".join(summary["data"])} --config '
                     f'{config_name}{init} --out {run} --epochs {rows[-1]["epoch"]} '
                     f'--batch-size {summary["batch_size"]} --lr {summary["lr"]} '
                     f'--eval-every {summary.get("eval_every", "N")} '
                     f'--eval-tasks {summary.get("eval_tasks", "all")} '
                     f'--eval-episodes {summary.get("eval_episodes", "N")} --threads 2')
    if summary.get('recipe'):  # the recipe's name, and what the run changed of it
        settings = load_recipe(summary['recipe'])['train']
        changed = ''.join(f' --{k.replace("_", "-")} {summary[k]}' for k in sorted(settings)
                          if k in summary and summary[k] != settings[k])
        train_command = (f'contrastive-vla train --recipe {summary["recipe"]} --data '
                         f'{" ".join(summary["data"])} --out {run}{changed}')
    lines = ['# clip_rt_default', '',
             f'The shipped CLIP-RT model (`models/{config_name}.json`). Weights are '
             'float16.', *(['', args.notes, ''] if args.notes else ['']), *HISTORY, '',
             '## How it was made', '', '```bash', args.collect, *args.before, train_command,
             f'python scripts/ship_default_model.py {run} --checkpoint {args.checkpoint} '
             f'--collect "..." {" ".join(args.evals)}',
             '```', '',
             f'- data: {summary["episodes"]} successful expert episodes, {summary["samples"]} '
             f'samples ({summary["train_samples"]} train / {summary["val_samples"]} validation, '
             'split by episode)',
             f'- training time: {summary["train_seconds"] / 60:.1f} min on 2 CPU cores '
             '(2 torch threads)',
             f'- shipped checkpoint: {args.checkpoint}, epoch {meta.get("epoch")} ' + (
                 f'(best closed-loop check of the run, {summary.get("eval_episodes", "?")} '
                 f'episodes per task: {summary["best_closed_loop_success"]:.0%})'
                 if args.checkpoint == 'best' else
                 f'(the end of the schedule; its closed-loop check, '
                 f'{summary.get("eval_episodes", "?")} episodes per task: '
                 f'{rows[-1].get("closed_loop_success", float("nan")):.0%})'),
             f'- held-out accuracy: top-1 {summary["final_val"]["accuracy"]:.3f}, top-3 '
             f'{summary["final_val"]["top3_accuracy"]:.3f} (last epoch)', '']
    for e in evals:
        lines.append(f'- eval-sim ({e.get("instructions", "task templates")}): '
                     f'{e["success_rate"]:.1%} over {e["episodes"]} episodes '
                     f'(95% CI {e["ci95"][0]:.2f}-{e["ci95"][1]:.2f})')
        for task, r in e['per_task'].items():
            lines.append(f'  - {task}: {r["success_rate"]:.0%} ({r["episodes"]} episodes)')
    (out / 'README.md').write_text('\n'.join(lines) + '\n')
    print(f'wrote {out}')


if __name__ == '__main__':
    main()
