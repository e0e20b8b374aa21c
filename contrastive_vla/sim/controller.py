"""The simulated arm's joint trajectory controller (what ros2_control's
joint_trajectory_controller does on a real robot), without ROS.

A new trajectory replaces the running one and starts from the current targets; between points
the targets are interpolated linearly in joint space; after the last point they hold. Like a
real controller it refuses trajectories it cannot follow: unknown or missing joints, a point
with the wrong number of values, NaN, positions outside the joint limits, times that do not
increase.
"""

import numpy as np


class TrajectoryError(ValueError):
    pass


class JointTrajectoryFollower:
    def __init__(self, joint_names, lower, upper):
        self.joint_names = list(joint_names)
        self.lower = np.asarray(lower, dtype=np.float64)
        self.upper = np.asarray(upper, dtype=np.float64)
        self.start_time = None
        self.times = None
        self.points = None

    @property
    def active(self):
        return self.points is not None

    def load(self, names, positions, times, now, current):
        """Start following; ``positions`` (k, n) in the order of ``names``, ``times`` (k,)."""
        names = list(names)
        if sorted(names) != sorted(self.joint_names) or len(set(names)) != len(names):
            raise TrajectoryError(f'trajectory joints {names} are not the arm joints '
                                     f'{self.joint_names}')
        if len(positions) == 0:
            self.stop(current)
            return
        order = [names.index(n) for n in self.joint_names]
        rows = []
        for k, p in enumerate(positions):
            p = np.asarray(p, dtype=np.float64).reshape(-1)
            if p.shape[0] != len(names):
                raise TrajectoryError(f'point {k} has {p.shape[0]} positions for '
                                         f'{len(names)} joints')
            rows.append(p[order])
        points = np.vstack(rows)
        t = np.asarray(times, dtype=np.float64)
        if not np.all(np.isfinite(points)) or not np.all(np.isfinite(t)):
            raise TrajectoryError('trajectory has non-finite values')
        if np.any(points < self.lower - 1e-9) or np.any(points > self.upper + 1e-9):
            raise TrajectoryError('trajectory leaves the joint limits')
        if t[0] < 0 or np.any(np.diff(t) <= 0):
            raise TrajectoryError('trajectory times must be >= 0 and increasing')
        self.start_time = float(now)
        self.times = np.concatenate([[0.0], t])
        self.points = np.vstack([np.asarray(current, dtype=np.float64)[None], points])

    def stop(self, current):
        self.start_time = None
        self.times = None
        self.points = np.asarray(current, dtype=np.float64)[None]

    def target(self, now):
        """Joint targets at ``now`` (None when there is nothing to follow)."""
        if self.points is None:
            return None
        if self.times is None:
            return self.points[-1]
        t = float(now) - self.start_time
        if t >= self.times[-1]:
            return self.points[-1]
        k = int(np.searchsorted(self.times, t, side='right'))
        t0, t1 = self.times[k - 1], self.times[k]
        s = (t - t0) / (t1 - t0)
        return self.points[k - 1] + s * (self.points[k] - self.points[k - 1])
