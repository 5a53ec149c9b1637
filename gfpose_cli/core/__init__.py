"""Core: the 17-joint skeleton, the Take every reader makes, errors, frame and axis constants (numpy only).

The bottom layer: nothing here imports anything of gfpose above it (docs/ARCHITECTURE.md).
"""
