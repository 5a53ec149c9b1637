"""Kinematics: rotations, bone lengths, cameras and projection, rigid alignment, world placement.

Poses in, poses out; no files, no time, no model (docs/ARCHITECTURE.md).
"""
