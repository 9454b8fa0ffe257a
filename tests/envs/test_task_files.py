"""Tasks defined by files: the predicate vocabulary on a real world, and bad task files as one-line
errors naming the file, the key and the fix."""

import re

import numpy as np
import pytest

from envs import task_config
from envs.errors import ConfigError
from recorder.dataset.tasks import make_env
from tests.conftest import edit_config


def set_pose(env, name, xyz, yaw=0.0):
    from envs.pose import yaw_quat

    env.client.resetBasePositionAndOrientation(env.bodies[name], xyz, yaw_quat(yaw))


def test_stack_predicates_follow_the_world(make_task_env):
    from envs import predicates as pr

    env = make_task_env("mimicrec/Stack-v0")
    env.reset(seed=0)
    z = env.table_top_z + 0.025
    assert pr.on(env, "cube_red", "table") and pr.on(env, "cube_blue", "table")
    assert not pr.on(env, "cube_red", "cube_blue") and not pr.lifted(env, "cube_red", 0.10)
    assert not pr.contact(env, "cube_red", "cube_blue")
    set_pose(env, "cube_blue", [0.5, 0.0, z])
    set_pose(env, "cube_red", [0.505, 0.0, z + 0.05])
    for _ in range(60):  # a quarter second: the cubes settle into contact and rest
        env.client.stepSimulation()
    assert pr.on(env, "cube_red", "cube_blue") and not pr.on(env, "cube_red", "table")
    assert pr.contact(env, "cube_red", "cube_blue") and pr.contact(env, "cube_blue", "cube_red")
    assert pr.aligned(env, "cube_red", "cube_blue", 0.01) and not pr.aligned(env, "cube_red", "cube_blue", 0.004)
    assert pr.lifted(env, "cube_red", 0.04) and not pr.lifted(env, "cube_red", 0.06)
    assert pr.eef_above(env, "cube_red", 0.04) and not pr.grasped(env, "cube_red")
    assert pr.at_rest(env) and pr.gripper_open(env) and not pr.touching(env)
    flags = env.evaluate()
    assert list(flags) == ["grasp_red", "red_on_blue", "success"] and flags["red_on_blue"]


def _steps_until_rest(env, name: str, steps: int = 60) -> int | None:
    """Control steps (gripper open) after which ``name``, laid on its side in PickPlace's bin and set rolling,
    stays at rest to the end of ``steps`` (None: still moving at the end)."""
    import math

    body = env.bodies[name]
    env.client.resetBasePositionAndOrientation(body, [0.58, 0.24, env.table_top_z + 0.075],
                                               env.client.getQuaternionFromEuler([math.pi / 2, 0, 0]))
    env.client.resetBaseVelocity(body, [0.05, -0.1, 0.0], [2.0, 1.0, 0.0])
    rest_from, action = None, np.array([0, 0, 0, 0, 0, 0, -1.0])
    for step in range(steps):
        env.step(action)
        rest_from = (step if rest_from is None else rest_from) if env.object_at_rest(name) else None
    return rest_from


def test_rolling_resistance_lets_a_cylinder_on_its_side_settle(make_task_env, config_root):
    env = make_task_env("mimicrec/PickPlace-v0")  # the task file's cylinder: rolling and spinning friction 0.001
    env.reset(seed=0)
    settled = _steps_until_rest(env, "cylinder_green")
    assert settled is not None and settled <= 15
    edit_config(config_root, "PickPlace", "gym", lambda d: d["scene"]["objects"]["cylinder_green"].update(
        rolling_friction=0.0, spinning_friction=0.0))
    task_config.load_task_config.cache_clear()
    free = make_task_env("mimicrec/PickPlace-v0")  # without: it rolls to and fro in the bin for seconds
    free.reset(seed=0)
    assert free.client.getDynamicsInfo(free.bodies["cylinder_green"], -1)[6:8] == (0.0, 0.0)
    assert _steps_until_rest(free, "cylinder_green") is None


def test_inside_level_and_inserted(make_task_env):
    from envs import predicates as pr

    env = make_task_env("mimicrec/PickPlace-v0")
    env.reset(seed=0)
    assert not pr.inside(env, "cube_red", "bin")
    set_pose(env, "cube_red", [0.55, 0.22, env.table_top_z + 0.03])
    assert pr.inside(env, "cube_red", "bin")
    bar = make_task_env("mimicrec/BimanualLift-v0")
    bar.reset(seed=0)
    set_pose(bar, "bar", [0.5, 0.0, 0.8], yaw=0.3)
    assert pr.level(bar, "bar", "y", 10.0) and pr.lifted(bar, "bar", 0.10)
    from envs.pose import mat_to_quat

    tilted = mat_to_quat(np.array([[1, 0, 0], [0, np.cos(0.3), -np.sin(0.3)], [0, np.sin(0.3), np.cos(0.3)]]))
    bar.client.resetBasePositionAndOrientation(bar.bodies["bar"], [0.5, 0.0, 0.8], tilted)
    assert not pr.level(bar, "bar", "y", 10.0) and pr.level(bar, "bar", "y", 20.0)
    peg = make_task_env("mimicrec/PegInsert-v0")
    peg.reset(seed=0)
    sx, sy, sz = peg.object_position("socket")
    set_pose(peg, "peg", [sx, sy, sz + 0.02 - 0.021 + 0.05])  # top at sz + 0.02; the peg bottom 2.1 cm below it
    assert pr.inserted(peg, "peg", "socket", 0.02) and not pr.inserted(peg, "peg", "socket", 0.025)


@pytest.mark.parametrize(("mutate", "key", "fragment"), [
    (lambda d: d["logic"].update(success="grabbed(cube_red)"), "logic.success",
     "unknown predicate 'grabbed' (did you mean 'grasped'?)"),
    (lambda d: d["logic"].update(success="grasped(cube_pink)"), "logic.success", "unknown object 'cube_pink'"),
    (lambda d: d["logic"]["flags"].update(grasp_red="red_on_blue"), "logic.flags.grasp_red",
     "'red_on_blue' is no flag declared before this one"),
    (lambda d: d["logic"].update(success="on(cube_red)"), "logic.success", "missing a required argument"),
    (lambda d: d["logic"].update(success="lifted(cube_red, high)"), "logic.success", "height must be a number"),
    (lambda d: d["logic"].update(success="inside(cube_red, cube_blue)"), "logic.success",
     "unknown container (an object with a container interior) 'cube_blue'"),
    (lambda d: d["logic"].update(success="__import__('os')"), "logic.success", "unknown predicate '__import__'"),
    (lambda d: d["logic"].update(success="1 + 1"), "logic.success", "is not allowed"),
    (lambda d: d["logic"].update(subtask_signals=["grasp_blue"]), "logic.subtask_signals", "grasp_blue are not flags"),
    (lambda d: d.pop("logic"), "", "missing required key 'logic'"),
    (lambda d: d["scene"]["objects"]["cube_red"].update(mass="heavy"), "scene.objects.cube_red.mass",
     "expected a number"),
    (lambda d: d["scene"]["objects"]["cube_red"].update(shape="cone"), "scene.objects.cube_red.shape",
     "unknown shape 'cone'"),
    (lambda d: d["scene"]["objects"]["cube_red"].update(shape="box", size=[0.05, 0.05]), "scene.objects.cube_red.size",
     "box takes 3 positive numbers"),
    (lambda d: d["scene"]["objects"]["cube_red"].update(shape="mesh", path="meshes/nothing.obj"),
     "scene.objects.cube_red.path", "exists neither beside the task file nor in pybullet_data"),
    (lambda d: d["scene"]["objects"]["cube_red"].pop("half_height"), "scene.objects.cube_red", "needs half_height"),
])
def test_bad_task_file_is_one_line_naming_file_and_key(config_root, mutate, key, fragment):
    path = edit_config(config_root, "Stack", "gym", mutate)
    with pytest.raises(ConfigError) as err:
        task_config.load_task_config("Stack")
    message = str(err.value)
    assert message.startswith(f"{path}: {key}") and fragment in message and "\n" not in message


def test_a_mesh_beside_the_task_file_is_found_and_built(config_root):
    mesh = config_root / "Stack" / "wedge.obj"
    mesh.write_text("v 0 0 0\nv 0.04 0 0\nv 0 0.04 0\nv 0 0 0.04\nf 1 2 3\nf 1 2 4\nf 1 3 4\nf 2 3 4\n")
    edit_config(config_root, "Stack", "gym", lambda d: d["scene"]["objects"].update(
        wedge={"shape": "mesh", "path": "wedge.obj", "half_height": 0.0, "rgba": [1, 1, 0, 1]}))
    config = task_config.load_task_config("Stack")
    assert config.scene.objects["wedge"].path == str(mesh.resolve())
    env = make_env("mimicrec/Stack-v0")
    try:
        env.reset(seed=0)
        assert "wedge" in env.bodies and "wedge" in env.get_object_poses()
    finally:
        env.close()


def test_resolve_task_names_what_is_missing(tmp_path):
    import envs
    from envs.errors import TaskError

    assert envs.resolve_task("mimicrec/Stack-v0") == "mimicrec/Stack-v0"
    with pytest.raises(TaskError, match="no such task file or folder"):
        envs.resolve_task(str(tmp_path / "gym.yaml"))
    with pytest.raises(TaskError, match="did you mean 'mimicrec/Stack-v0'"):
        envs.resolve_task("mimicrec/Stak-v0")
    (tmp_path / "notes.yaml").write_text("- a list, not a task\n")
    with pytest.raises(ConfigError, match="notes.yaml: the top level must be a mapping"):
        envs.resolve_task(str(tmp_path / "notes.yaml"))
    (tmp_path / "data.hdf5").write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(range(256)))
    with pytest.raises(ConfigError, match="data.hdf5: not a text file"):
        envs.resolve_task(str(tmp_path / "data.hdf5"))


def test_a_stored_definition_must_match_its_id():
    import envs
    from envs.task_config import task_definition

    definition = task_definition(task_config.load_task_config("Lift"))
    with pytest.raises(ConfigError, match="env_name and definition disagree"):
        envs.resolve_task("mimicrec/LiftElsewhere-v0", definition)


PLACED = """
task: test/Placed-v0
scene:
  objects:
    plate: {shape: box, size: [0.12, 0.12, 0.01], static: true}
    cylinder: {shape: cylinder, size: [0.02, 0.05]}
    bin: {shape: tray, scale: 0.4, fixed: [0.55, 0.22], container: {inner_half: [0.105, 0.105], rim_height: 0.05}}
    ball: {shape: sphere, size: [0.02]}
randomization:
  D0:
    x: [0.45, 0.6]
    y: [-0.2, 0.0]
    yaw: [0, 0]
    min_spacing: 0.1
    objects:
      plate: {x: [0.5, 0.52], y: [-0.15, -0.13]}
      cylinder: {on_top_of: plate, x: [-0.01, 0.01]}
      ball: {inside: bin}
logic:
  flags:
    cylinder_on_plate: on(cylinder, plate, xy_tol=0.03)
  success: cylinder_on_plate and inside(ball, bin)
observation: {state_keys: [robot0_eef_pos], env_state_keys: [object]}
recording: {instruction: test}
rollout: {max_episode_steps: 10}
"""


def test_objects_placed_in_their_own_range_on_another_object_or_inside_a_container(tmp_path):
    from envs import predicates as pr

    (tmp_path / "gym.yaml").write_text(PLACED)
    env = make_env(str(tmp_path), success_hold_steps=1)  # success judged on the frame the loop below reaches
    try:
        for seed in range(3):
            env.reset(seed=seed)
            x, y, _ = env.object_position("plate")
            assert 0.5 <= x <= 0.52 and -0.15 <= y <= -0.13
            for _ in range(120):  # half a second: the cylinder settles on the plate, the ball in the bin
                env.client.stepSimulation()
            assert pr.on(env, "cylinder", "plate", 0.03) and pr.inside(env, "ball", "bin")
            assert env.evaluate()["success"]
    finally:
        env.close()


@pytest.mark.parametrize(("old", "new", "fragment"), [
    ("      ball: {inside: bin}", "      ball: {inside: plate}", "'plate' declares no container interior"),
    ("      cylinder: {on_top_of: plate, x: [-0.01, 0.01]}", "      cylinder: {on_top_of: ball}",
     "'ball' must be an object placed before 'cylinder'"),
    ("      ball: {inside: bin}", "      bin: {x: [0.5, 0.6]}", "'bin' is not a movable object of the task"),
    ("      ball: {inside: bin}", "      ball: {inside: bin, on_top_of: plate}", "give on_top_of or inside, not both"),
    ("      plate: {x: [0.5, 0.52]", "      plate: {x: [0.52, 0.5]", "low <= high"),
    ("      cylinder: {on_top_of: plate, x: [-0.01, 0.01]}", "      cylinder: {on: plate}",
     "unknown key(s) True (YAML reads an unquoted on/off/yes/no key as true/false: quote it)"),
])
def test_bad_object_placements_name_the_key(tmp_path, old, new, fragment):
    assert old in PLACED
    (tmp_path / "gym.yaml").write_text(PLACED.replace(old, new))
    with pytest.raises(ConfigError, match=re.escape(fragment)) as err:
        task_config.read_task_file(tmp_path / "gym.yaml")
    assert "randomization.D0" in str(err.value)


def test_a_task_file_cannot_take_a_registered_id(tmp_path):
    import shutil

    import envs

    shutil.copytree(task_config.CONFIG_ROOT / "Stack", tmp_path / "copy")
    with pytest.raises(ConfigError, match="'mimicrec/Stack-v0' is already registered by .*; give this task another"):
        envs.resolve_task(str(tmp_path / "copy"))


def test_a_task_folder_without_a_needed_file_says_what_needs_it(tmp_path):
    """A task of one gym.yaml: the scripted expert and the Mimic spec are missing, each named with its fix; the
    training template is optional (None)."""
    import envs

    (tmp_path / "gym.yaml").write_text(PLACED.replace("test/Placed-v0", "test/OneFile-v0"))
    env_id = envs.resolve_task(str(tmp_path))
    with pytest.raises(ConfigError, match=f"{tmp_path} has no action_bank.yaml .or action_bank.json.; "
                                          "`--device scripted` runs it: write one"):
        envs.task_config_file(env_id, "action_bank")
    with pytest.raises(ConfigError, match="has no mimic.yaml .or mimic.json.; annotate and generate read it"):
        envs.task_config_file(env_id, "mimic")
    assert envs.optional_task_config_file(env_id, "train") is None
    assert envs.optional_task_config_file(env_id, "gym") == tmp_path / "gym.yaml"
