"""Speed benchmarks: the policy's per-decision latency and the simulator's costs.

Numbers, not assertions: ``contrastive-vla bench --json OUT`` prints and writes them;
docs/experiments.md records them with the machine they came from, and the README's results
table quotes the headline ones.
"""

import itertools
import os
import platform
import tempfile
import time

import numpy as np

from contrastive_vla.core.vocabulary import PrimitiveVocabulary
from contrastive_vla.data.demos import collect
from contrastive_vla.model.config import ModelConfig
from contrastive_vla.sim.env import HOME_ROTATION, TabletopEnv


def machine_info():
    # deferred: torch takes seconds to import; only this path needs it
    import torch

    info = {'cpu': platform.processor() or platform.machine(), 'cores': os.cpu_count(),
            'torch_threads': torch.get_num_threads(), 'python': platform.python_version(),
            'torch': torch.__version__}
    try:
        with open('/proc/cpuinfo', encoding='utf-8') as f:
            for line in f:
                if line.startswith('model name'):
                    info['cpu'] = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    if torch.cuda.is_available():
        info['gpu'] = torch.cuda.get_device_name(0)
    return info


def _timed(fn, n, warmup=2):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return np.asarray(times)


def bench_policy(policy_factory, n_cached=200, n_uncached=20, image_shape=(224, 224),
                 n_idle=0, idle_gap=0.3):
    """Latency of one decision (image + instruction -> ranked primitives), cached/uncached,
    from a camera frame of ``image_shape`` (height, width) as the VLA node gets it.

    ``n_idle`` decisions ``idle_gap`` s apart (``idle_p50_ms``): the rhythm of a graph, where
    the VLA node waits for each primitive's outcome. Back to back, the model's weights stay in
    the caches and the core stays awake; after 0.3 s idle one decision took 1.6-1.7x as long
    on this project's 2-core machine (a VM) with nothing else running."""
    rng = np.random.default_rng(0)
    height, width = image_shape
    image = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
    instruction = 'put the red block in the green zone'
    state = np.zeros(16, np.float32)
    cached = policy_factory(True)
    times = _timed(lambda: cached.scores(image, instruction, state), n_cached)
    uncached = policy_factory(False)
    slow = _timed(lambda: uncached.scores(image, instruction, state), n_uncached, warmup=1)
    idle = []
    for _ in range(n_idle):
        time.sleep(idle_gap)
        idle.append(_timed(lambda: cached.scores(image, instruction, state), 1, warmup=0)[0])
    params = sum(p.numel() for p in cached.model.parameters())
    result = {'p50_ms': round(float(np.percentile(times, 50)), 3),
            'p99_ms': round(float(np.percentile(times, 99)), 3),
            'decisions_per_s': round(1000.0 / float(np.mean(times)), 1),
            'uncached_p50_ms': round(float(np.percentile(slow, 50)), 3),
            'uncached_p99_ms': round(float(np.percentile(slow, 99)), 3),
            'parameters_m': round(params / 1e6, 2), 'samples': int(n_cached),
            'camera': f'{width}x{height}'}
    if idle:
        result.update(idle_p50_ms=round(float(np.percentile(idle, 50)), 3),
                      idle_p99_ms=round(float(np.percentile(idle, 99)), 3),
                      idle_gap_s=idle_gap)
    return result


def bench_models(default_model, extra_configs=('ViT-B-32',), n_cached=200, device='cpu',
                 image_shape=(224, 224), n_idle=0):
    """One entry per model: 'default' (the shipped checkpoint) and each extra config."""
    # deferred: torch takes seconds to import; only this path needs it
    import torch

    from contrastive_vla.model.clip_rt import ClipRT
    from contrastive_vla.model.policy import ClipRTPolicy, load_model

    results = {}
    model, vocab, _ = load_model(default_model, device)
    results['default'] = bench_policy(
        lambda cache: ClipRTPolicy(model, vocab, device=device, use_cache=cache), n_cached,
        image_shape=image_shape, n_idle=n_idle)
    results['default']['model'] = str(default_model)
    vocab = PrimitiveVocabulary.load()
    for name in extra_configs:
        torch.manual_seed(0)
        big = ClipRT(ModelConfig.load(name)).to(device).eval()  # random weights: speed only
        results[name] = bench_policy(
            lambda cache, m=big: ClipRTPolicy(m, vocab, device=device, use_cache=cache),
            n_cached=max(10, n_cached // 10), n_uncached=3)
        results[name]['model'] = f'{name} (random weights: speed only)'
    return results


def bench_sim(collect_episodes=16, workers=2):
    """Render, physics, IK and primitive costs; data-generation throughput and bag size."""
    env = TabletopEnv(image_size=(224, 224))
    env.reset('place_in_zone', 0)
    render = _timed(lambda: env.render(), 100, warmup=5)
    mj = env.mj
    physics = _timed(lambda: mj.mj_step(env.model, env.data), 2000, warmup=10)
    target = env.tcp_pose()[0] + np.array([0.05, 0.05, -0.05])
    ik_iteration = _timed(lambda: env.kin.ik(target, HOME_ROTATION, env.home_q, iterations=1),
                          500)
    ik_solve = _timed(lambda: env.kin.ik(target, HOME_ROTATION, env.home_q), 200)
    env.reset('reach_block', 1)
    moves = itertools.cycle(['left_5cm', 'right_5cm', 'forward_1cm', 'backward_1cm'])
    step = _timed(lambda: env.step(next(moves)), 60, warmup=2)
    env.close()
    with tempfile.TemporaryDirectory() as tmp:
        tasks = ['reach_block', 'push_block_left', 'lift_block', 'place_in_zone']
        summary = collect(tasks, max(1, collect_episodes // len(tasks)), tmp, seed=500_000,
                          workers=workers, progress=False)
    return {
        'render_224_ms': {'p50': round(float(np.median(render)), 3),
                          'p99': round(float(np.percentile(render, 99)), 3)},
        'physics_step_us': round(float(np.median(physics)) * 1e3, 1),
        'ik_iteration_us': round(float(np.median(ik_iteration)) * 1e3, 1),
        'ik_solve_ms': round(float(np.median(ik_solve)), 3),
        'primitive_execution_ms': round(float(np.median(step)), 2),
        'data_generation_episodes_per_min': summary['episodes_per_minute'],
        'data_generation_workers': summary['workers'],
        'bytes_per_recorded_step': summary['bytes_per_step'],
    }
