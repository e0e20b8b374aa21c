"""The three QoS profiles of the graph (conventions: sensor / command / latched)."""

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy


def sensor(reliable=False):
    """Camera frames and joint states at the consumer: newest only; best effort unless asked
    (best effort matches every publisher; reliable keeps large frames from being lost)."""
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                      reliability=ReliabilityPolicy.RELIABLE if reliable
                      else ReliabilityPolicy.BEST_EFFORT)


def sensor_publisher(depth=2):
    """Publishers of frames: reliable so large frames are not lost between processes (best
    effort lost ~40% of 640x480 frames here); a best-effort subscriber still matches."""
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth,
                      reliability=ReliabilityPolicy.RELIABLE)


def command(depth=10):
    """Commands and outcomes: reliable, keep the last few."""
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth,
                      reliability=ReliabilityPolicy.RELIABLE)


def latched():
    """The active instruction and the e-stop: reliable + transient local, so late nodes get the
    current value."""
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                      reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.TRANSIENT_LOCAL)
