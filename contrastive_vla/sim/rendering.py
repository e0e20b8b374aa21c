"""Headless OpenGL backend selection for MuJoCo: EGL (Mesa on the CPU) first, then OSMesa.

MuJoCo reads ``MUJOCO_GL`` when it is first imported, so :func:`configure_gl` must run before
``import mujoco``; every simulator module imports mujoco through :func:`import_mujoco`.
"""

import time

from contrastive_vla.robot.mjcf import configure_gl, import_mujoco


def render_probe(size=224):
    """Build a tiny scene and render one frame; returns (backend, milliseconds)."""
    backend = configure_gl()
    mujoco = import_mujoco()
    model = mujoco.MjModel.from_xml_string(
        '<mujoco><worldbody><light pos="0 0 2"/><geom type="box" size=".1 .1 .1" '
        'rgba="1 0 0 1"/><camera name="c" pos="0 -1 .5" xyaxes="1 0 0 0 .5 1"/>'
        '</worldbody></mujoco>')
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    with mujoco.Renderer(model, size, size) as renderer:
        renderer.update_scene(data, camera='c')
        start = time.perf_counter()
        image = renderer.render()
        elapsed = (time.perf_counter() - start) * 1e3
    if image.shape != (size, size, 3) or image.max() == 0:
        raise RuntimeError(f'rendering with MUJOCO_GL={backend} produced an empty image')
    return backend, elapsed
