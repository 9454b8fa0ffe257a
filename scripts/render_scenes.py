"""Render every registered task mid-solution to docs/images/<Task>.png (the README's task table)."""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import envs  # noqa: E402
from recorder.dataset.tasks import make_env  # noqa: E402
from recorder.devices.scripted import make_expert  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "docs" / "images"


def render_task(env_id: str, steps_fraction: float = 0.6, size: int = 256) -> Image.Image:
    """The task's agentview after ``steps_fraction`` of its scripted solution (seed 0)."""
    env = make_env(env_id)
    env.reset(seed=0)
    expert = make_expert(env_id, env)
    for _ in range(int(steps_fraction * envs.TASKS[env_id].max_episode_steps / 2)):
        env.step(expert.act())
    image = Image.fromarray(env.render_camera(size, size))
    env.close()
    return image


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for env_id, entry in envs.TASKS.items():
        path = OUT / f"{entry.config_name}.png"
        render_task(env_id).save(path)
        print(path)


if __name__ == "__main__":
    main()
