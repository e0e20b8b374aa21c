"""``contrastive-vla demo``: the whole ROS 2 graph on the simulator, driven by instructions.

Starts the ``sim`` profile of the graph (simulator, instruction listener, VLA node, arm bridge:
one process each, as ``contrastive-vla launch sim`` does), then for every task and episode asks
the simulator for the episode, says its instruction on the ``instruction`` topic, watches the arm
work, and says "stop" at the end. Prints what happens, a success table, and writes videos and a
JSON summary. Same tasks and seeds as ``eval-sim``, so the two success rates compare.

Examples::

    contrastive-vla demo
    contrastive-vla demo --episodes 5 --json outputs/demo.json --video outputs/demo
    contrastive-vla demo --model runs/default/best --tasks reach_block --episodes 10
"""

import json
import os
from pathlib import Path
import time

from contrastive_vla.commands.common import check_episodes_and_seed
from contrastive_vla.sim.tasks import load_tasks, resolve_task_ids


def add_arguments(parser):
    parser.add_argument('--model', default='clip_rt_default',
                        help='trained model directory or name in models/')
    parser.add_argument('--tasks', default='all', help='"all" or comma-separated task ids')
    parser.add_argument('--episodes', type=int, default=1, help='episodes per task')
    parser.add_argument('--seed', type=int, default=0,
                        help='first episode seed (episode i uses seed + i, as eval-sim)')
    parser.add_argument('--real-time-factor', type=float, default=1.0,
                        help='simulated seconds per wall-clock second')
    parser.add_argument('--json', dest='json_out', default=None, help='write the summary here')
    parser.add_argument('--video', default=None, help='directory for episode videos (mp4)')
    parser.add_argument('--video-episodes', type=int, default=1,
                        help='episodes per task to film when --video is given')
    parser.add_argument('--episode-timeout', type=float, default=180.0,
                        help='wall-clock seconds before an episode is given up')
    parser.add_argument('--domain-id', type=int, default=None,
                        help="ROS_DOMAIN_ID for the graph (default: the environment's)")


def run(args):
    check_episodes_and_seed(args.episodes, args.seed, '--episodes')
    if not args.real_time_factor > 0:
        raise ValueError('--real-time-factor must be positive')
    tasks = load_tasks()
    task_ids = resolve_task_ids(args.tasks, tasks)
    if args.domain_id is not None:
        os.environ['ROS_DOMAIN_ID'] = str(args.domain_id)
    # deferred: a command imports its rooms when it runs, so --help stays fast
    from contrastive_vla.evaluation.sim_eval import format_table, summarise
    from contrastive_vla.ros.graph_driver import GraphDriver, percentiles
    from contrastive_vla.ros.launcher import GraphProcesses

    overrides = {'model': args.model, 'task': task_ids[0], 'seed': str(args.seed),
                 'real_time_factor': str(args.real_time_factor)}
    processes = GraphProcesses('sim', overrides)
    driver = None
    results, episodes = [], []
    started = time.perf_counter()

    try:
        print(f'starting the graph: {", ".join(processes.commands())} (model {args.model})',
              flush=True)
        processes.start()
        driver = GraphDriver()
        driver.wait_for_graph(is_alive=processes.check)
        print(f'graph up in {time.perf_counter() - started:.1f} s', flush=True)
        total = len(task_ids) * args.episodes
        for task_id in task_ids:
            for i in range(args.episodes):
                seed = args.seed + i
                video = _open_video(args, task_id, seed, i)
                if video is not None:
                    driver.set_frame_sink(lambda rgb, v=video, t=task_id: v.add_image(rgb, t, ''))
                try:
                    ep = driver.run_episode(task_id, seed, timeout=args.episode_timeout,
                                            is_alive=processes.check)
                finally:
                    driver.set_frame_sink(None)
                    if video is not None:
                        video.close(ep.success if 'ep' in locals() else None)
                episodes.append(ep)
                results.append(ep.to_dict())
                print(f'[{len(episodes)}/{total}] {task_id} seed {seed}: {ep.instruction!r} -> '
                      f'{"SUCCESS" if ep.success else "failed (" + ep.ended_by + ")"} in '
                      f'{ep.steps} steps, {ep.wall_s:.1f} s', flush=True)
        final_status = dict(driver.vla_status)
    finally:
        if driver is not None:
            driver.close()
        codes = processes.stop()
    summary = summarise(results, f'{args.model} (ROS graph)', task_ids, args.seed,
                        time.perf_counter() - started)
    summary.update(
        latency_ms=percentiles([ms for e in episodes for ms in e.decision_ms]),
        command_latency_ms=percentiles([ms for e in episodes for ms in e.command_latency_ms]),
        dropped_frames=int(final_status.get('dropped_frames', 0)),
        frames=int(final_status.get('frames', 0)),
        real_time_factor=args.real_time_factor,
        node_exit_codes=codes,
        notes={'latency_ms': 'VLA decision: frame in hand -> primitive published (wall clock)',
               'command_latency_ms': 'camera stamp -> arm command sent, on the simulated '
                                     'clock (whole control ticks)'})
    summary.pop('decision_ms', None)
    print(format_table(summary))
    print(f'decision latency p50 {summary["latency_ms"]["p50"]} ms, p99 '
          f'{summary["latency_ms"]["p99"]} ms; dropped frames {summary["dropped_frames"]}')
    if args.video:
        print(f'videos: {args.video}')
    if args.json_out:
        Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json_out).write_text(json.dumps(summary, indent=2))
    return 0


def _open_video(args, task_id, seed, index):
    if not args.video or index >= args.video_episodes:
        return None
    # deferred: a command imports its rooms when it runs, so --help stays fast
    from contrastive_vla.evaluation.video import EpisodeVideo

    return EpisodeVideo(Path(args.video) / f'{task_id}_{seed:05d}.mp4')
