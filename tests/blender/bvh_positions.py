"""Run inside Blender: import a BVH and print the world position of every joint at some frames.

blender -b --factory-startup --python bvh_positions.py -- FILE.bvh OUT.json FRAME [FRAME ...]

Used by tests/test_blender_interop.py as an independent implementation of BVH forward kinematics.
"""
import builtins
import json
import sys

import bpy

_open = builtins.open


def _open_without_u(file, mode="r", *args, **kwargs):
    # Blender 3.4's importer opens with mode "rU", which Python 3.11 no longer accepts
    return _open(file, mode.replace("U", ""), *args, **kwargs)


builtins.open = _open_without_u
args = sys.argv[sys.argv.index("--") + 1:]
path, out, frames = args[0], args[1], [int(f) for f in args[2:]]
bpy.ops.wm.read_factory_settings(use_empty=True)
# axis_forward Y / axis_up Z is Blender's own frame: the file's coordinates are taken as they are
bpy.ops.import_anim.bvh(filepath=path, axis_forward="Y", axis_up="Z", global_scale=1.0, rotate_mode="NATIVE",
                        use_fps_scale=False, update_scene_fps=False, update_scene_duration=True)
arm = next(o for o in bpy.context.scene.objects if o.type == "ARMATURE")
scene = bpy.context.scene
keys = max(len(c.keyframe_points) for c in arm.animation_data.action.fcurves)  # one key per BVH frame
result = {"frame_count": keys, "joints": {}, "frames": frames}
for f in frames:
    bpy.context.scene.frame_set(bpy.context.scene.frame_start + f)
    for bone in arm.pose.bones:
        result["joints"].setdefault(bone.name, []).append(list(arm.matrix_world @ bone.head))
with _open(out, "w") as handle:
    json.dump(result, handle)
