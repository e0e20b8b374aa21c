"""The teleop room: teach a task by talking the arm through it, recording bags as you go.

Entry point: :class:`contrastive_vla.teleop.session.TeleopSession`.
"""
