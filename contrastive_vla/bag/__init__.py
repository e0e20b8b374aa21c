"""The bag room: rosbag2 files (sqlite3 and MCAP) read and written without a ROS install.

Entry points: :func:`open_bag` (read) and :class:`BagWriter` (write).
"""
