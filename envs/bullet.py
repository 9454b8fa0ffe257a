"""pybullet clients: quiet to create, and cheap to call."""

from __future__ import annotations

import pybullet as p
from pybullet_utils import bullet_client

from envs.quiet import silenced_fds


class CachedBulletClient(bullet_client.BulletClient):
    """A ``BulletClient`` that binds each pybullet function to its client once.

    The stock wrapper builds a new ``functools.partial`` on every call (~4% of a control step); here
    the bound function is stored on the instance, so later look-ups never reach ``__getattr__``.
    """

    def __getattr__(self, name: str):
        attribute = super().__getattr__(name)
        if callable(attribute):
            self.__dict__[name] = attribute
        return attribute

    def disconnect(self) -> None:
        """Disconnect, without the ~20 lines a GUI client prints on stdout as its threads stop."""
        client, self._client = self._client, -1
        with silenced_fds(1):
            p.disconnect(physicsClientId=client)


def connect(gui: bool = False) -> CachedBulletClient:
    """A new pybullet client (DIRECT, or GUI), without the ``argv[0]=`` line pybullet prints, nor the two
    ``ven = ...`` lines the GUI's render thread prints as it first draws (a tiny OpenGL image waits for them)."""
    with silenced_fds(1):
        client = CachedBulletClient(connection_mode=p.GUI if gui else p.DIRECT)
        if gui:
            client.getCameraImage(8, 8, renderer=p.ER_BULLET_HARDWARE_OPENGL)
        return client
