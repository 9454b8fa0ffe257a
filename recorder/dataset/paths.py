"""Output locations: auto-numbered run folders under the dataset root, removed again on failure."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

from envs.errors import UsageError

DEFAULT_ROOT = "datasets"


def dataset_root() -> Path:
    """The root for new runs: ``$MIMICREC_DATASET_ROOT`` or ``./datasets``."""
    return Path(os.environ.get("MIMICREC_DATASET_ROOT", DEFAULT_ROOT))


def next_run_dir(kind: str, root: Path | None = None) -> Path:
    """``<root>/<kind>_<NNN>`` with NNN one above the highest existing number (never reused)."""
    root = dataset_root() if root is None else root
    pattern = re.compile(rf"^{re.escape(kind)}_(\d+)$")
    taken = [int(m.group(1)) for p in root.glob(f"{kind}_*") if (m := pattern.match(p.name))]
    return root / f"{kind}_{max(taken, default=0) + 1:03d}"


@contextlib.contextmanager
def output_dir(out: str | None, kind: str, keep_data: bool = False) -> Iterator[Path]:
    """Create the run folder (``out`` or the next numbered one); delete it if the run fails.

    An existing non-empty ``out`` is refused so that no earlier run is overwritten. With
    ``keep_data`` a failed run's folder is deleted only if nothing is left in it (its writers
    keep what they committed).
    """
    path = Path(out) if out else next_run_dir(kind)
    if path.exists() and not path.is_dir():
        raise UsageError(f"--out {path} is a file, not a folder; pass a folder's path")
    if path.exists() and any(path.iterdir()):
        raise UsageError(f"output folder {path} is not empty; pass a new --out or remove it")
    created = not path.exists()
    make_folder(path)
    try:
        yield path
    except BaseException:
        if created and not (keep_data and path.is_dir() and any(path.iterdir())):
            shutil.rmtree(path, ignore_errors=True)
        raise


def prepare_output_file(path: str | None) -> None:
    """Create the folder of an output file before any work (as ``convert`` and ``annotate`` create theirs), so
    that a path that cannot be written fails at once, not after the work is done."""
    if path is not None:
        make_folder(Path(path).parent)


def make_folder(path: Path) -> None:
    """``mkdir -p path``; a path through a file or a folder that cannot be written is a ``UsageError``."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as err:
        raise UsageError(f"cannot create the folder {path}: part of its path is a file; pass another path") from err
    except PermissionError as err:
        raise UsageError(f"cannot create the folder {path}: permission denied; pass a writable path") from err


def write_atomically(path: Path, data: bytes | str) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename: readers see old or new, never half."""
    tmp = path.with_name(path.name + ".partial")
    tmp.write_bytes(data.encode() if isinstance(data, str) else data)
    os.replace(tmp, path)
