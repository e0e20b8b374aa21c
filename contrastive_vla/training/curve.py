"""A run's learning curve: closed-loop success on fresh seeds against training minutes.

``train --keep-checks`` keeps the model of every closed-loop check as ``RUN_DIR/epoch_NNN``.
The check itself (a few episodes per task on fixed seeds) ranks checkpoints only when they
differ by ~15 points; this evaluates each kept checkpoint on as many episodes as asked, on
seeds the run never saw, and joins the result with what ``metrics.jsonl`` says of that epoch
(training minutes, held-out accuracy, the check's own figure). ``minutes_to`` reads off the
training minutes to a target success: the first checkpoint that reached it.

Entry point: :func:`learning_curve`; :func:`format_curve` and :func:`plot_curve` show it.
:func:`plot_metrics` draws a run's own ``metrics.jsonl`` (``RUN_DIR/training.png``).
"""

import json
from pathlib import Path
import re

from contrastive_vla.core.plots import pyplot, save_figure
from contrastive_vla.evaluation.sim_eval import evaluate_in_sim

CHECKPOINT = re.compile(r'epoch_(\d+)$')


def kept_checkpoints(run_dir: str | Path, epochs=None) -> list[tuple[int, Path]]:
    """(epoch, directory) of the run's kept checkpoints in epoch order, ``last/`` added when
    its epoch was not kept; only those of ``epochs`` when given (an iterable of ints).
    Raises FileNotFoundError naming what is missing (the run, its checkpoints, or an epoch
    asked for that was not kept)."""
    run = Path(run_dir)
    if not (run / 'metrics.jsonl').is_file():
        raise FileNotFoundError(f'{run}: no metrics.jsonl (not a training run directory)')
    found = sorted((int(m.group(1)), p) for p in run.iterdir()
                   if p.is_dir() and (m := CHECKPOINT.match(p.name)))
    last = run / 'last' / 'meta.json'
    if last.is_file():
        epoch = json.loads(last.read_text()).get('epoch')
        if isinstance(epoch, int) and epoch not in {e for e, _ in found}:
            found.append((epoch, run / 'last'))
    if not found:
        raise FileNotFoundError(f'{run}: no kept checkpoints (train with --keep-checks) and '
                                'no last/')
    if epochs is not None:
        wanted = set(epochs)
        missing = sorted(wanted - {e for e, _ in found})
        if missing:
            raise FileNotFoundError(
                f'{run}: no checkpoint kept for epoch(s) {", ".join(map(str, missing))} '
                f'(kept: {", ".join(str(e) for e, _ in sorted(found))})')
        found = [(e, p) for e, p in found if e in wanted]
    return sorted(found)


def epoch_rows(run_dir: str | Path) -> dict[int, dict]:
    """metrics.jsonl of a run, epoch -> its row (a resumed run's later row wins)."""
    return {row['epoch']: row for row in metrics_rows(Path(run_dir) / 'metrics.jsonl')}


def metrics_rows(metrics_path: str | Path) -> list[dict]:
    """The rows of a run's metrics.jsonl, in the order written."""
    return [json.loads(line) for line in Path(metrics_path).read_text().splitlines()
            if line.strip()]


def learning_curve(run_dir, task_ids, episodes, seed, wordings, workers=1, progress=True,
                   target=0.9, on_point=None, loops='on', checkpoints=None):
    """Evaluate ``checkpoints`` ((epoch, directory) pairs, as :func:`kept_checkpoints`
    lists them; default: every kept checkpoint of ``run_dir``) on ``episodes`` per task from
    ``seed``.

    ``wordings``: (name, task id -> templates or None for the task templates) pairs, each
    evaluated on the same episodes. ``on_point(point)`` is called after each checkpoint (to
    print as it goes). Returns a dict: ``run``, ``episodes``, ``seed``, ``target``,
    ``points`` (per checkpoint: ``epoch``, ``checkpoint``, ``train_minutes``,
    ``val_accuracy``, ``val_top3_accuracy``, ``check`` (the run's own closed-loop check or
    None) and per wording ``success``, ``ci95``, ``per_task``) and ``minutes_to_target``
    (wording -> training minutes of the first checkpoint at or above ``target``, None if
    none reached it: of the checkpoints evaluated, so with some left out an upper bound).
    ``loops``: the loop breaker, 'on' or 'off' (``evaluate_in_sim``)."""
    rows = epoch_rows(run_dir)
    points = []
    for epoch, path in checkpoints if checkpoints is not None else kept_checkpoints(run_dir):
        row = rows.get(epoch, {})
        point = {'epoch': epoch, 'checkpoint': str(path),
                 'train_minutes': row.get('train_minutes'),
                 'val_accuracy': row.get('val_accuracy'),
                 'val_top3_accuracy': row.get('val_top3_accuracy'),
                 'check': row.get('closed_loop_success'),
                 'success': {}, 'ci95': {}, 'per_task': {}}
        for name, instructions in wordings:
            summary = evaluate_in_sim(str(path), task_ids, episodes, seed=seed,
                                      instructions=instructions, workers=workers,
                                      progress=progress, loops=loops)
            point['success'][name] = summary['success_rate']
            point['ci95'][name] = summary['ci95']
            point['per_task'][name] = {t: r['success_rate']
                                       for t, r in summary['per_task'].items()}
        points.append(point)
        if on_point is not None:
            on_point(point)
    names = [name for name, _ in wordings]
    return {'run': str(run_dir), 'episodes': episodes, 'seed': seed, 'tasks': list(task_ids),
            'target': target, 'points': points,
            'minutes_to_target': {n: minutes_to(points, n, target) for n in names}}


def minutes_to(points: list[dict], wording: str, target: float) -> float | None:
    """Training minutes of the first point whose success with ``wording`` is >= ``target``
    (None: no point reached it, or the run did not record its minutes)."""
    for point in sorted(points, key=lambda p: p['epoch']):
        if point['success'].get(wording, -1.0) >= target:
            return point['train_minutes']
    return None


def _percent(value):
    return '-' if value is None else f'{100 * value:.1f}%'


def format_curve(curve: dict) -> str:
    """The curve as a table: one row per checkpoint, then the minutes to the target."""
    names = list(curve['minutes_to_target'])
    header = ['epoch', 'train min', 'val top-1', 'check'] + names
    lines = ['  '.join(f'{h:>12}' for h in header)]
    for p in curve['points']:
        minutes = '-' if p['train_minutes'] is None else f'{p["train_minutes"]:.1f}'
        val = '-' if p['val_accuracy'] is None else f'{p["val_accuracy"]:.3f}'
        cells = [str(p['epoch']), minutes, val, _percent(p['check'])] + [
            _percent(p['success'].get(n)) for n in names]
        lines.append('  '.join(f'{c:>12}' for c in cells))
    for name, minutes in curve['minutes_to_target'].items():
        reached = (f'{minutes:.1f} training minutes' if minutes is not None else
                   'not reached by any kept checkpoint')
        lines.append(f'to {curve["target"]:.0%} with {name}: {reached}')
    return '\n'.join(lines)


def plot_curve(curve: dict, out_png: str | Path) -> None:
    """Success per wording and held-out accuracy against training minutes, the target as a
    line; written as a PNG."""
    plt = pyplot()
    points = [p for p in curve['points'] if p['train_minutes'] is not None]
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    xs = [p['train_minutes'] for p in points]
    for name in curve['minutes_to_target']:
        ys = [p['success'][name] for p in points]
        lows = [p['ci95'][name][0] for p in points]
        highs = [p['ci95'][name][1] for p in points]
        line, = ax.plot(xs, ys, 'o-', label=f'success, {name}')
        ax.fill_between(xs, lows, highs, color=line.get_color(), alpha=0.15)
    ax.plot(xs, [p['val_accuracy'] if p['val_accuracy'] is not None else float('nan')
                 for p in points], 's--', color='grey', label='held-out top-1')
    ax.axhline(curve['target'], color='black', lw=0.8, ls=':',
               label=f'target {curve["target"]:.0%}')
    ax.set_ylim(0, 1)
    ax.set_xlabel('training minutes')
    ax.set_ylabel('fraction')
    ax.set_title(f'{curve["run"]}: {curve["episodes"]} episodes per task from seed '
                 f'{curve["seed"]}', fontsize=9)
    ax.legend(fontsize=8, loc='lower right')
    save_figure(fig, out_png)


def plot_metrics(metrics_path, out_png):
    """Loss, validation accuracy and closed-loop success per epoch, as a PNG."""
    rows = metrics_rows(metrics_path)
    if not rows:
        return
    plt = pyplot()
    # against the training wall-clock when every row has it (success vs minutes), else epochs
    by_minutes = all('train_minutes' in r for r in rows)
    x_key, x_label = ('train_minutes', 'training minutes') if by_minutes else ('epoch', 'epoch')
    xs = [r[x_key] for r in rows]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    axes[0].plot(xs, [r['loss'] for r in rows], label='train loss')
    axes[0].set_xlabel(x_label)
    axes[0].set_ylabel('loss')
    axes[0].legend()
    for key, label in (('val_accuracy', 'val accuracy'), ('val_top3_accuracy', 'val top-3')):
        axes[1].plot(xs, [r.get(key) if r.get(key) is not None else float('nan')
                          for r in rows], label=label)
    cl = [(r[x_key], r['closed_loop_success']) for r in rows if 'closed_loop_success' in r]
    if cl:
        axes[1].plot(*zip(*cl), 'o-', label='closed-loop success')
    axes[1].set_ylim(0, 1)
    axes[1].set_xlabel(x_label)
    axes[1].legend()
    save_figure(fig, out_png)
