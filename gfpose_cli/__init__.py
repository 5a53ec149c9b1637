"""gfpose: a learned 3D human pose prior (GFPose) for motion-capture files."""
__version__ = "0.1.0"
