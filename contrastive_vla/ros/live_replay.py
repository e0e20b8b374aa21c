"""Live replay evaluation: bags played through the deployed graph (player -> listener -> VLA
node), scored with the offline metrics of :mod:`contrastive_vla.evaluation.bag_eval`."""

from pathlib import Path
import queue
import time

import numpy as np
from std_msgs.msg import String

from contrastive_vla.bag import find_bags, open_bag
from contrastive_vla.core.topics import topic
from contrastive_vla.data.dataset import TopicMap, read_episode
from contrastive_vla.evaluation.bag_eval import BagScores
from contrastive_vla.model.policy import load_model
from contrastive_vla.ros import messages, qos
from contrastive_vla.ros.graph_driver import GraphDriver
from contrastive_vla.ros.launcher import GraphError, GraphProcesses


def live_replay(paths, model, rate=1.0, topics=None, timeout=None, progress=True):
    """Play bags through the deployed graph (player -> listener -> VLA node) and score what the
    VLA node published against the recorded primitives, with the same metrics as
    :func:`evaluate_bags`. Steps the graph never decided on (frames it dropped or was too slow
    for) count as misses; they are also reported on their own."""
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


        driver.node.create_subscription(String, topic('replay_status').name, on_status,
                                        qos.latched())
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
    # the frame a decision was made on, by its stamp (ns, exact: the player shifts stamps by
    # whole nanoseconds and the VLA node reports the stamp it read)
    by_stamp = {d['image_stamp_ns']: d for d in decisions
                if d.get('acted') and isinstance(d.get('image_stamp_ns'), int)}
    total, missed = BagScores(), 0
    per_episode = []
    for bag, samples in recorded.items():
        offset = offsets.get(bag, 0)
        episode = BagScores()
        for label, stamp in zip(samples['labels'], samples['stamps']):
            truth = vocab[int(label)]
            d = by_stamp.get(stamp + offset) if stamp is not None else None
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
    n = driver.node
    while n.count_publishers(topic('primitive_topk').name) < 1 or \
            n.count_publishers(topic('replay_status').name) < 1:
        processes.check()
        if time.monotonic() > deadline:
            raise GraphError('the replay graph did not come up (no VLA decisions or player '
                             'status to listen to)')
        time.sleep(0.1)
    time.sleep(0.5)  # the other side of the match (the VLA's writer) settles too
    # latched, and the node keeps the publisher: the player gets it whenever it matches
    n.create_publisher(String, topic('replay_start').name, qos.latched()).publish(
        messages.string('start'))


def _bag_seconds(bag):
    try:
        with open_bag(bag) as reader:
            return reader.duration_ns * 1e-9
    except Exception:  # noqa: BLE001 - unreadable bags are reported by the scorer
        return 0.0
