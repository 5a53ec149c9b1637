"""Frames and axes: the constants and rotations that take a file's axes to gfpose's canonical frame.

Mocap poses are metres with Z up; `lift` output is in the camera frame (x right, y down, z forward).
"""
from __future__ import annotations

import numpy as np

#: from a Y-up right-handed frame (x, y, z) to our Z-up right-handed frame (x, -z, y).
Y_UP_TO_Z_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]], dtype=np.float64)
#: camera frame of `lift` output (x right, y down, z forward) -> Z-up world (x right, y forward, z up)
CAMERA_TO_Z_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]], dtype=np.float64)


def up_rotation(up: np.ndarray) -> np.ndarray:
    """Rotation taking the dominant direction of vector up (a signed axis) to +Z."""
    axis = int(np.argmax(np.abs(up)))
    sign = np.sign(up[axis]) or 1.0
    if axis == 2:
        return np.diag([1.0, sign, sign])  # Z up or Z down (rotate 180 degrees about X)
    if axis == 1:
        return Y_UP_TO_Z_UP if sign > 0 else np.array([[1.0, 0, 0], [0, 0, 1.0], [0, -1.0, 0]])
    return np.array([[0, 0, -sign], [0, 1.0, 0], [sign, 0, 0]])  # X up: rotate about Y
