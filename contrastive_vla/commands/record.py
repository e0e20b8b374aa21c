"""``contrastive-vla record``: record topics of a running graph into a rosbag2 bag.

Examples::

    contrastive-vla record --out bags/session1                     # the project's topics
    contrastive-vla record --topics image_raw active_instruction primitive --out b --duration 60
    contrastive-vla record --out b --storage sqlite3
    contrastive-vla record --recover --out b   # save what a killed recording of b left behind

Stops at Ctrl-C, SIGTERM or after --duration; topics without a publisher yet are picked up when one
appears. The bag opens with ``ros2 bag info`` / ``ros2 bag play``.
"""

import shutil
import signal
import time

from contrastive_vla.core.topics import load_topics

DEFAULT_KEYS = ('image', 'camera_info', 'instruction', 'active_instruction', 'primitive',
                'primitive_delta', 'primitive_status', 'supervision', 'joint_states', 'episode',
                'estop', 'estop_state', 'listener_stop')


def add_arguments(parser):
    parser.add_argument('--out', required=True, help='bag directory to create')
    parser.add_argument('--topics', nargs='+', default=None,
                        help='topics to record (default: the project topics of '
                             'config/topics.yaml)')
    parser.add_argument('--storage', choices=('mcap', 'sqlite3'), default='mcap')
    parser.add_argument('--duration', type=float, default=None, help='seconds, then stop')
    parser.add_argument('--recover', action='store_true',
                        help='instead of recording: turn the partial recording a killed '
                             'recorder left for --out into a complete bag at --out')


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def recover(out, storage):
    # deferred: a command imports its rooms when it runs, so --help stays fast
    from contrastive_vla.bag import partial_recordings, recover_bag

    partials = partial_recordings(out)
    if not partials:
        print(f'no interrupted recording of {out} found (looked for hidden '
              f'.<name>.*.partial directories beside it)')
        return 1
    if len(partials) > 1:
        print(f'{len(partials)} interrupted recordings of {out}; recovering the newest')
    partial = max(partials, key=lambda d: d.stat().st_mtime)
    counts, notes = recover_bag(partial, out, storage=storage)
    for note in notes:
        print(f'  note: {note}')
    for topic, n in sorted(counts.items()):
        print(f'  {topic}: {n} message(s)')
    shutil.rmtree(partial)
    print(f'recovered {sum(counts.values())} message(s) into {out}')
    return 0


def run(args):
    # deferred: a command imports its rooms when it runs, so --help stays fast
    import rclpy
    from rclpy.executors import SingleThreadedExecutor

    from contrastive_vla.bag import partial_recordings
    from contrastive_vla.ros.nodes.recorder import BagRecorder

    if args.recover:
        return recover(args.out, args.storage)
    for partial in partial_recordings(args.out):
        print(f'note: {partial} is an interrupted earlier recording of {args.out}; '
              f'`contrastive-vla record --recover --out {args.out}` saves what it holds',
              flush=True)
    signal.signal(signal.SIGTERM, _interrupt)  # a launcher's stop ends the bag cleanly too
    topics = args.topics or [load_topics()[k].name for k in DEFAULT_KEYS]
    rclpy.init()
    node = rclpy.create_node('recorder')
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    recorder = None
    try:
        recorder = BagRecorder(node, topics, args.out, storage=args.storage)
        if recorder.pending:
            print(f'waiting for publishers on: {", ".join(recorder.pending)}', flush=True)
        node.create_timer(0.5, recorder.poll)
        node.create_timer(1.0, recorder.flush)
        print(f'recording {len(topics)} topic(s) into {args.out} (Ctrl-C to stop)', flush=True)
        end = time.monotonic() + args.duration if args.duration else None
        while end is None or time.monotonic() < end:
            executor.spin_once(timeout_sec=0.1)
    except KeyboardInterrupt:
        pass
    finally:
        counts = recorder.close() if recorder is not None else {}
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
    for topic, n in sorted(counts.items()):
        print(f'  {topic}: {n} message(s)')
    if recorder is not None and recorder.pending:
        print(f'never published: {", ".join(recorder.pending)}')
    print(f'bag: {args.out}')
    return 0
