"""The shared types: what a robot shows (:class:`Observation`), what became of a primitive
(:class:`StepResult`), which task an episode is (:class:`EpisodeSpec`), and the interface every
policy offers (:class:`Policy`).

The simulator, the ROS arm used by teleop and the episode runner all speak these, so a policy
cannot tell a simulated arm from a real one. A learned policy sees only observations and the
task; the scripted expert, which reads the simulator's privileged state, is a
:class:`PrivilegedPolicy` and is handed the environment explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from contrastive_vla.core.status import Outcome
from contrastive_vla.core.vocabulary import Primitive


@dataclass
class Observation:
    image: NDArray[np.uint8] | None  # (H, W, 3) RGB from the scene camera; None: not rendered
    joint_names: list[str]
    joint_positions: NDArray[np.float64]  # arm joints (rad) then finger joints (m)
    joint_velocities: NDArray[np.float64]
    tcp_position: NDArray[np.float64] | None  # None where the arm's kinematics live elsewhere
    tcp_rotation: NDArray[np.float64] | None
    instruction: str
    time: float                # simulation time (s)


@dataclass
class StepResult:
    status: Outcome
    message: str
    primitive: Primitive | None = None
    success: bool = False


@dataclass
class EpisodeSpec:
    task_id: str
    seed: int
    instruction: str
    binding: dict[str, str]
    block_colours: list[str]
    zone_colours: list[str]


@runtime_checkable
class Policy(Protocol):
    """Chooses the next primitive from what the robot shows."""

    name: str
    needs_images: bool   # False: the runner may skip rendering for it

    def reset(self, task: EpisodeSpec, seed: int | None = None) -> None:
        """A new episode of ``task`` starts (seeded, for policies that sample)."""

    def act(self, observation: Observation) -> Primitive | None:
        """The primitive to execute next, or None to give up."""


@runtime_checkable
class PrivilegedPolicy(Policy, Protocol):
    """A policy that reads the simulator's ground truth (the scripted expert and the tools
    built on it): the runner calls :meth:`attach` with the environment before :meth:`reset`."""

    def attach(self, env: Any) -> None:
        """The environment whose privileged state the policy may read."""
