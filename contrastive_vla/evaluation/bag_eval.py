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

from contrastive_vla.data.dataset import TopicMap, find_bags, read_episode


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
    from tqdm import tqdm

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
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

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
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


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


def live_replay(paths, model, rate=1.0, topics=None, timeout=None, progress=True):
    """Play bags through the deployed graph (player -> listener -> VLA node) and score what the
    VLA node published against the recorded primitives, with the same metrics as
    :func:`evaluate_bags`. Steps the graph never decided on (frames it dropped or was too slow
    for) count as misses; they are also reported on their own."""
    import queue

    from contrastive_vla.evaluation.graph_eval import GraphDriver
    from contrastive_vla.model.policy import load_model
    from contrastive_vla.ros import messages
    from contrastive_vla.ros.launcher import GraphError, GraphProcesses

    topics = topics or TopicMap()
    _model, vocab, _meta = load_model(model)
    image_size = _model.cfg.image_size
    bags = find_bags(paths)
    recorded = {}
    skipped = []
    for bag in bags:
        try:
            samples, _success, notes = read_episode(bag, vocab, image_size, topics)
        except Exception as exc:  # noqa: BLE001 - reported, the rest is played
            skipped.append(f'{bag}: not scored ({type(exc).__name__}: {exc})')
            continue
        skipped.extend(notes)
        recorded[str(bag)] = samples
    duration = sum(_bag_seconds(b) for b in bags) / rate
    timeout = timeout or duration * 2 + 180
    if len(paths) != 1:
        raise ValueError('live replay plays one bag or one directory of bags; got '
                         f'{len(paths)} paths')
    overrides = {'bag': str(paths[0]), 'model': str(model), 'rate': str(rate),
                 'image_topic': topics.image, 'instruction_topic': topics.instruction}
    # lock-step: the player waits for the VLA's decision on each frame, so a busy machine
    # slows the replay down instead of losing steps
    processes = GraphProcesses('replay', overrides,
                               extra_args={'player': ['-p', 'lockstep:=true',
                                                      '-p', 'wait_for_start:=true']})
    offsets, decisions = {}, []
    ended = queue.Queue()
    driver = None
    started = time.perf_counter()
    try:
        processes.start()
        driver = GraphDriver()
        _start_when_listening(driver, processes, deadline=time.monotonic() + timeout)

        def on_status(msg):
            event = messages.parse_json(msg)
            if event and event.get('event') == 'bag':
                offsets[event['bag']] = event['offset_ns']
            elif event and event.get('event') == 'end':
                ended.put(event)

        from std_msgs.msg import String

        from contrastive_vla.ros import qos
        driver.node.create_subscription(String, 'replay_status', on_status, qos.latched())
        deadline = time.monotonic() + timeout
        while ended.empty():
            processes.check()
            if time.monotonic() > deadline:
                raise GraphError(f'replay did not finish within {timeout:.0f} s')
            time.sleep(0.2)
        time.sleep(1.0)  # the last decision
        while not driver.decisions.empty():
            decisions.append(driver.decisions.get())
        status = dict(driver.vla_status)
    finally:
        if driver is not None:
            driver.close()
        processes.stop()
    by_stamp = {round(d['image_stamp'], 6): d for d in decisions
                if d.get('acted') and d.get('image_stamp') is not None}
    total, missed = BagScores(), 0
    per_episode = []
    for bag, samples in recorded.items():
        offset = offsets.get(bag, 0) * 1e-9
        episode = BagScores()
        for label, stamp in zip(samples['labels'], samples['stamps']):
            truth = vocab[int(label)]
            d = by_stamp.get(round((stamp or 0.0) + offset, 6))
            if d is None:
                missed += 1
                total.steps += 1
                episode.steps += 1
                continue
            ranked = [vocab.from_phrase(t['primitive']) for t in d['top'][:3]]
            for scores in (total, episode):
                scores.add(ranked, truth, d.get('decision_ms', 0.0))
        per_episode.append({'bag': Path(bag).name, **episode.row()})
    if total.steps == 0:
        raise ValueError('no recorded step to score: ' + '; '.join(skipped[:5]))
    lat = np.asarray(total.latencies_ms) if total.latencies_ms else np.zeros(1)
    return {**total.row(), 'missed_steps': missed,
            'decided_accuracy': total.correct / max(total.steps - missed, 1),
            'latency_ms': {'p50': float(np.percentile(lat, 50)),
                           'p99': float(np.percentile(lat, 99))},
            'dropped_frames': int(status.get('dropped_frames', 0)),
            'rate': rate, 'wall_s': time.perf_counter() - started, 'bags': len(bags),
            'per_episode': per_episode, 'skipped': skipped,
            'partial': len(recorded) < len(bags)}


def _start_when_listening(driver, processes, deadline):
    """Tell the player to play once the driver hears the VLA node's decisions: a decision
    published before its subscription is matched would be lost (a missed step)."""
    from std_msgs.msg import String

    from contrastive_vla.ros import messages, qos
    from contrastive_vla.ros.launcher import GraphError
    from contrastive_vla.topics import topic

    n = driver.node
    while n.count_publishers(topic('primitive_topk').name) < 1 or \
            n.count_publishers('replay_status') < 1:
        processes.check()
        if time.monotonic() > deadline:
            raise GraphError('the replay graph did not come up (no VLA decisions or player '
                             'status to listen to)')
        time.sleep(0.1)
    time.sleep(0.5)  # the other side of the match (the VLA's writer) settles too
    # latched, and the node keeps the publisher: the player gets it whenever it matches
    n.create_publisher(String, 'replay_start', qos.latched()).publish(messages.string('start'))


def _bag_seconds(bag):
    from contrastive_vla.data.bags import open_bag

    try:
        with open_bag(bag) as reader:
            return reader.duration_ns * 1e-9
    except Exception:  # noqa: BLE001 - unreadable bags are reported by the scorer
        return 0.0
