"""The three QoS profiles of the graph (conventions: sensor / command / latched)."""


def sensor():
    """Camera frames and joint states at the consumer: best effort, newest only."""
    from rclpy.qos import QoSProfile, qos_profile_sensor_data

    profile = QoSProfile(**{k: getattr(qos_profile_sensor_data, k) for k in (
        'history', 'reliability', 'durability')}, depth=1)
    return profile


def sensor_publisher(depth=2):
    """Publishers of frames: reliable so large frames are not lost between processes (best
    effort lost ~40% of 640x480 frames here); a best-effort subscriber still matches."""
    from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy

    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth,
                      reliability=ReliabilityPolicy.RELIABLE)


def command(depth=10):
    """Commands and outcomes: reliable, keep the last few."""
    from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy

    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth,
                      reliability=ReliabilityPolicy.RELIABLE)


def latched():
    """The active instruction and the e-stop: reliable + transient local, so late nodes get the
    current value."""
    from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                      reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.TRANSIENT_LOCAL)
