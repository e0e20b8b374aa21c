"""Camera ingestion: a V4L2 camera, a video file or an image directory -> image_raw (rgb8) and
camera_info at a set rate. A lost camera is retried; nothing stale is ever published."""

import time

from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node

from contrastive_vla.core.topics import topic
from contrastive_vla.data import camera as sources
from contrastive_vla.ros import messages, params, qos
from contrastive_vla.ros.node_parameters import NODES
from contrastive_vla.ros.runtime import NodeStartupError, RateMeter, diagnostics, run_node


class CameraNode(Node):
    def __init__(self):
        super().__init__('camera')
        self.p = params.declare(self, NODES['camera'], on_change=self.on_parameters)
        if len(self.p['crop']) != 4:
            raise NodeStartupError('camera: crop needs 4 integers [x, y, width, height]')
        if not str(self.p['source']).strip():
            raise NodeStartupError(
                'camera: no source; pass source:=0 (first camera), a /dev/video path, a video '
                'file or a directory of images')
        self.image_pub = self.create_publisher(
            messages.msg_class('image'), topic('image').name, qos.sensor_publisher())
        self.info_pub = self.create_publisher(
            messages.msg_class('camera_info'), topic('camera_info').name, qos.sensor_publisher())
        self.diag_pub = self.create_publisher(DiagnosticArray, topic('diagnostics').name, 10)
        self.source = None
        self.next_attempt = 0.0
        self.ended = False
        self.published = 0
        self.failures = 0
        self.meter = RateMeter()
        self.last_error = ''
        self.timer = self.create_timer(1.0 / self.p['rate'], self.tick)
        self.diag_timer = self.create_timer(1.0, self.report)
        self.get_logger().info(f'camera: {self.p["source"]} at {self.p["rate"]:.1f} Hz')

    def on_parameters(self, values, changed):
        """``ros2 param set``: a new rate re-creates the frame timer (reconnect_period is read
        when used)."""
        if 'rate' in changed:
            self.destroy_timer(self.timer)
            self.timer = self.create_timer(1.0 / values['rate'], self.tick)

    def _open(self):
        now = time.monotonic()
        if now < self.next_attempt:
            return False
        self.next_attempt = now + self.p['reconnect_period']
        try:
            self.source = sources.open_source(self.p['source'], loop=self.p['loop'])
        except (sources.CameraUnavailableError, ValueError, OSError) as exc:
            self._lost(str(exc))
            return False
        self.get_logger().info(f'opened {self.source.name}')
        return True

    def _lost(self, reason):
        self.failures += 1
        self.last_error = reason
        self.get_logger().warning(f'camera unavailable: {reason}; retrying every '
                                  f'{self.p["reconnect_period"]:.1f} s',
                                  throttle_duration_sec=5.0)

    def tick(self):
        if self.ended or (self.source is None and not self._open()):
            return
        try:
            rgb = self.source.read()
            rgb = sources.crop_and_resize(rgb, self.p['crop'], self.p['width'],
                                          self.p['height'])
        except sources.EndOfStreamError as exc:
            self.get_logger().info(f'{exc}; no more frames (loop is off)')
            self.ended = True
            return
        except (sources.CameraUnavailableError, ValueError, OSError) as exc:
            if self.source is not None:
                self.source.close()
            self.source = None
            self._lost(str(exc))
            return
        stamp = self.get_clock().now().to_msg()
        height, width = rgb.shape[:2]
        self.image_pub.publish(messages.image(rgb, stamp, self.p['frame_id']))
        self.info_pub.publish(messages.camera_info(
            width, height, self.p['horizontal_fov_deg'], stamp, self.p['frame_id']))
        self.published += 1
        self.meter.tick()

    def report(self):
        rate = self.meter.rate()
        ok = self.source is not None and rate > 0.5 * self.p['rate']
        message = (f'{rate:.1f} Hz' if self.source is not None
                   else f'no camera: {self.last_error}')
        self.diag_pub.publish(diagnostics(
            self, 'contrastive_vla: camera', 'ok' if ok else 'warn', message,
            {'rate_hz': f'{rate:.2f}', 'target_hz': self.p['rate'], 'frames': self.published,
             'failures': self.failures, 'source': self.p['source']}))

    def destroy_node(self):
        if self.source is not None:
            self.source.close()
        super().destroy_node()


def main(args=None):
    return run_node(CameraNode, args)


if __name__ == '__main__':
    raise SystemExit(main())
