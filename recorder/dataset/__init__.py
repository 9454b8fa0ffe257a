"""The dataset layer: the episode stream and its Mimic fields, the robomimic HDF5 and LeRobot writers,
reading datasets back, replaying demos, run folders, task lookup, ``convert`` and ``info``.
"""
