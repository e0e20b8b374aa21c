"""Offline replay evaluation: score a model on the steps recorded in rosbag2 bags.

For every recorded step (the camera frame and the instruction active before a recorded
primitive, the same pairing training uses), the model ranks the vocabulary and is compared with
the primitive that was executed: exact match, top-3, same axis and direction, and the error of
the amount along that axis. Deterministic (no sampling, fixed order). Bags that cannot be read
are reported with the reason and the rest are still scored (a partial report says what was
skipped).
"""

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
import time

import numpy as np
from tqdm import tqdm

from contrastive_vla.bag import find_bags
from contrastive_vla.core.plots import pyplot, save_figure
from contrastive_vla.data.dataset import TopicMap, read_episode


@dataclass
class BagScores:
    steps: int = 0
    correct: int = 0
    top3: int = 0
    direction: int = 0
    magnitude_errors: list = field(default_factory=list)
    latencies_ms: list = field(default_factory=list)

    def add(self, ranked, truth, latency_ms):
        best = ranked[0]
        self.steps += 1
        self.correct += int(best.index == truth.index)
        self.top3 += int(truth.index in {p.index for p in ranked[:3]})
        same = same_direction(best, truth)
        self.direction += int(same)
        if same and not truth.is_gripper:
            self.magnitude_errors.append(abs(best.magnitude - truth.magnitude))
        self.latencies_ms.append(latency_ms)

    def row(self):
        n = max(self.steps, 1)
        return {'steps': self.steps, 'accuracy': self.correct / n, 'top3_accuracy': self.top3 / n,
                'direction_accuracy': self.direction / n}


def same_direction(a, b):
    """Same axis and the same sign along it (open vs close for the gripper)."""
    return a.axis == b.axis and np.sign(a.value) == np.sign(b.value)


def evaluate_bags(paths, policy, topics=None, progress=True, only=None):
    """Score ``policy`` on every bag under ``paths`` (``only``: bag names to keep)."""
    topics = topics or TopicMap()
    vocab = policy.vocab
    bags = find_bags(paths)
    if only is not None:
        keep = set(only)
        bags = [b for b in bags if Path(b).name in keep]
        if not bags:
            raise ValueError('none of the listed episodes is among the bags under '
                             f'{[str(p) for p in paths]}')
    total = BagScores()
    per_episode, per_instruction = [], defaultdict(BagScores)
    confusion = np.zeros((len(vocab), len(vocab)), np.int64)
    skipped = []
    started = time.perf_counter()
    for bag in tqdm(bags, desc='eval-bag', unit='bag', disable=not progress, dynamic_ncols=True):
        try:
            samples, success, notes = read_episode(bag, vocab, policy.cfg.image_size, topics)
        except Exception as exc:  # noqa: BLE001 - one bad bag is reported, the rest scored
            skipped.append(f'{bag}: not scored ({type(exc).__name__}: {exc})')
            continue
        skipped.extend(notes)
        episode = BagScores()
        for image, label, instruction, state in zip(samples['images'], samples['labels'],
                                                    samples['instructions'], samples['states']):
            t0 = time.perf_counter()
            ranked = [p for p, _ in policy.rank(image, instruction, top_k=3, state=state)]
            ms = (time.perf_counter() - t0) * 1e3
            truth = vocab[int(label)]
            for scores in (total, episode, per_instruction[instruction]):
                scores.add(ranked, truth, ms)
            confusion[truth.index, ranked[0].index] += 1
        if episode.steps == 0:
            skipped.append(f'{bag}: no scorable steps')
            continue
        per_episode.append({'bag': Path(bag).name, 'success': success, **episode.row(),
                            'instruction': samples['instructions'][0]})
    wall = time.perf_counter() - started
    if total.steps == 0:
        raise ValueError('no step of any bag could be scored: ' + '; '.join(skipped[:5]))
    lat = np.asarray(total.latencies_ms)
    mag = np.asarray(total.magnitude_errors) if total.magnitude_errors else np.zeros(1)
    return {
        **total.row(),
        'magnitude_error': {'mean': float(mag.mean()), 'p90': float(np.percentile(mag, 90)),
                            'units': 'metres (translation) / radians (rotation) along the '
                                     'recorded axis, over steps with the right direction'},
        'latency_ms': {'p50': float(np.percentile(lat, 50)), 'p99': float(np.percentile(lat, 99))},
        'steps_per_s': total.steps / wall, 'wall_s': wall,
        'bags': len(bags), 'episodes_scored': len(per_episode),
        'per_episode': per_episode,
        'per_instruction': {k: v.row() for k, v in sorted(per_instruction.items())},
        'skipped': skipped, 'partial': len(per_episode) < len(bags),
        'confusion': confusion,
    }


def plot_confusion(confusion, vocab, path):
    """Confusion matrix PNG (rows: recorded primitive, columns: the model's choice)."""
    plt = pyplot()
    used = np.flatnonzero(confusion.sum(0) + confusion.sum(1))
    m = confusion[np.ix_(used, used)].astype(float)
    rows = m.sum(1, keepdims=True)
    m = np.divide(m, rows, out=np.zeros_like(m), where=rows > 0)
    names = [vocab[int(i)].name for i in used]
    size = max(6, 0.22 * len(used) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    im = ax.imshow(m, cmap='viridis', vmin=0, vmax=1)
    ax.set_xticks(range(len(used)), names, rotation=90, fontsize=6)
    ax.set_yticks(range(len(used)), names, fontsize=6)
    ax.set_xlabel('model choice')
    ax.set_ylabel('recorded primitive')
    ax.set_title('eval-bag confusion (row-normalised)')
    fig.colorbar(im, fraction=0.046, pad=0.04)
    save_figure(fig, path, dpi=120)


def format_report(result):
    lines = [f'steps {result["steps"]} from {result["episodes_scored"]} episode(s) of '
             f'{result["bags"]} bag(s)',
             f'accuracy {result["accuracy"]:.3f}  top-3 {result["top3_accuracy"]:.3f}  '
             f'direction {result["direction_accuracy"]:.3f}  magnitude error '
             f'{result["magnitude_error"]["mean"]:.4f}',
             f'latency p50 {result["latency_ms"]["p50"]:.2f} ms  p99 '
             f'{result["latency_ms"]["p99"]:.2f} ms  ({result["steps_per_s"]:.1f} steps/s)']
    if result['skipped']:
        lines.append(f'{len(result["skipped"])} note(s) about skipped data, first: '
                     f'{result["skipped"][0]}')
    return '\n'.join(lines)
