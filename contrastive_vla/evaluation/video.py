"""Episode videos (mp4v, which the OpenCV wheels can write) with the instruction overlaid."""

from pathlib import Path

import cv2

from contrastive_vla.core.images import resize_rgb

FPS = 25


class EpisodeVideo:
    """Collects one frame per control tick from the env's scene camera; call close() at the end."""

    def __init__(self, path, env=None, size=(320, 320), every=1):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.env = env
        self.size = size
        self.every = every
        self._count = 0
        self._last = None
        self._writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*'mp4v'), FPS,
                                       (size[1], size[0]))
        if not self._writer.isOpened():
            raise OSError(f'cannot open a video writer for {self.path}')

    def add_frame(self, env=None):
        self._count += 1
        if self._count % self.every:
            return
        env = env or self.env
        self.add_image(env.render(size=self.size), env.spec.instruction if env.spec else '',
                       f'step {env.steps}')

    def add_image(self, rgb, top='', bottom=''):
        """Append an RGB frame (resized to the video size) with two caption lines."""
        if rgb.shape[:2] != tuple(self.size):
            rgb = resize_rgb(rgb, tuple(self.size))
        frame = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        self._annotate(frame, top, bottom)
        self._last = frame
        self._writer.write(frame)

    def _annotate(self, frame, top, bottom, colour=(255, 255, 255)):
        for text, y in ((top, 18), (bottom, frame.shape[0] - 8)):
            cv2.putText(frame, text, (6, y), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 3,
                        cv2.LINE_AA)
            cv2.putText(frame, text, (6, y), cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, 1,
                        cv2.LINE_AA)

    def close(self, success=None):
        if self._last is not None and success is not None:
            frame = self._last.copy()
            self._annotate(frame, '', 'SUCCESS' if success else 'FAILED',
                           (80, 255, 80) if success else (80, 80, 255))
            for _ in range(FPS):
                self._writer.write(frame)
        self._writer.release()
