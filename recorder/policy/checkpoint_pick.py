"""Pick ``model.pth`` by fresh rollouts among a run's best rollout checkpoints and its last one.

Rollouts during training score every few epochs on few scenes; the highest of many such noisy scores
is mostly luck (the winner's curse: on StackThree the rollout-picked checkpoint evaluated 78% where the
last one evaluated 88%). ``mimicrec train --pick-rollouts N`` keeps a checkpoint at every evaluated
epoch, takes the ``FINALISTS`` best by their training score plus the last epoch, rolls each out ``N``
times on scenes of their own (not those of training, nor those ``mimicrec eval`` uses by default) and
keeps the best; among equal scores the later epoch, trained longer with a lower learning rate.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from recorder.dataset.paths import write_atomically
from recorder.policy.evaluate import evaluate

FINALISTS = 3  # best epochs by training-rollout success that go to the pick, beside the last epoch
PICK_STREAM = 4  # seed stream of the pick's scenes (record 0, generate 1, eval 2, training rollouts 3)


@dataclass(frozen=True)
class Pick:
    """The picked epoch and every finalist's success over the pick's rollouts."""

    epoch: int
    scores: dict[int, float]
    num_rollouts: int


def finalists(success: dict[int, float], last_epoch: int, count: int = FINALISTS) -> list[int]:
    """The ``count`` epochs with the best training-rollout success (later first among equals) and the last."""
    best = sorted(success, key=lambda epoch: (success[epoch], epoch), reverse=True)[:count]
    return sorted({*best, last_epoch})


def pick_checkpoint(checkpoints: dict[int, Path], num_rollouts: int, seed: int, max_steps: int) -> Pick:
    """Roll each epoch's checkpoint out ``num_rollouts`` times; the best (later among equals) is picked."""
    scores = {epoch: evaluate(str(path), num_rollouts, seed=seed, stream=PICK_STREAM, max_steps=max_steps).success_rate
              for epoch, path in checkpoints.items()}
    return Pick(max(scores, key=lambda epoch: (scores[epoch], epoch)), scores, num_rollouts)


def write_pick(path: Path, pick: Pick, training_success: dict[int, float]) -> None:
    """``pick.json``: the picked epoch, and per finalist its training-rollout and pick success."""
    finalists_json = [{"epoch": epoch, "training_success": training_success.get(epoch), "pick_success": score}
                      for epoch, score in sorted(pick.scores.items())]
    record = {"picked_epoch": pick.epoch, "rollouts_each": pick.num_rollouts, "finalists": finalists_json}
    write_atomically(path, json.dumps(record, indent=2) + "\n")
