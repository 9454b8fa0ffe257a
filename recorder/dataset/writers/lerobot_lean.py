"""lerobot's own ``save_episode``, run without the costs that buy nothing when a whole episode is handed over.

Everything here is scoped to one ``save_episode`` call (``lean_save_episode``) or one dataset, and leaves the
files byte-identical to lerobot as shipped (tests/recorder/test_writers.py compares them, videos included).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np


@contextlib.contextmanager
def lean_save_episode(dataset) -> Iterator[None]:
    """lerobot's ``save_episode`` on ``dataset`` without costs that buy nothing here (together over half its time):

    - ``datasets`` names every in-memory episode table by hashing all of it (dill-pickling every value)
      for a cache it never writes; a random name serves, as ``datasets`` itself uses when caching is off;
    - ``datasets`` encodes every numeric column row by row through Python objects into an in-memory
      ``Dataset`` (copying its features a dozen times) of which lerobot only reads the length and the Arrow
      table; the table is built from the columns directly (``arrow_columns``, cast to the features' schema);
    - ``hf_features`` copies the dataset's features at each read (and their Arrow schema is rebuilt at each
      use); one copy and its schema serve the dataset (its features are fixed when it is created);
    - ``info.json`` and ``stats.json`` are rewritten after every episode; ``commit`` writes them once,
      before lerobot finalizes, and nothing reads them in between (a crash rolls back to the last commit);
    - the episode statistics' quantiles sum each histogram (5,000 bins) once per quantile; once serves them all
      (``_quantiles_from_one_cumsum``: the same arithmetic on the same sums, so the same values), and the counts
      per bin come from one ``searchsorted`` per dimension instead of ``np.histogram``'s checks, sort and two
      (``_count_into_histograms``: the same counts);
    - ``embed_images`` copies the table's features to find image columns; mimicrec's datasets have none
      (cameras are videos), so it returns the table as it is.
    """
    from datasets import arrow_dataset, fingerprint
    from lerobot.datasets import compute_stats, lerobot_dataset

    hf_features, schema = _features_and_schema(dataset)
    shipped = vars(lerobot_dataset.LeRobotDataset)["hf_features"]
    from_dict = _from_arrow_columns(vars(arrow_dataset.Dataset)["from_dict"], hf_features, schema)
    swaps = [(arrow_dataset, "generate_fingerprint", lambda table: fingerprint.generate_random_fingerprint()),
             (arrow_dataset.Dataset, "from_dict", from_dict),
             (lerobot_dataset.LeRobotDataset, "hf_features",
              property(lambda self: hf_features if self is dataset else shipped.fget(self))),
             (lerobot_dataset, "write_info", lambda *args, **kwargs: None),
             (lerobot_dataset, "write_stats", lambda *args, **kwargs: None)]
    swaps += [(compute_stats.RunningQuantileStats, "_compute_quantiles", _quantiles_from_one_cumsum),
              (compute_stats.RunningQuantileStats, "_update_histograms", _count_into_histograms)]
    if not any(feature["dtype"] == "image" for feature in dataset.features.values()):
        swaps.append((lerobot_dataset, "embed_images", lambda table: table))
    saved = [(owner, name, vars(owner)[name]) for owner, name, _ in swaps]  # a class's own classmethod object
    for owner, name, replacement in swaps:
        setattr(owner, name, replacement)
    try:
        yield
    finally:
        for owner, name, original in saved:
            setattr(owner, name, original)


def _features_and_schema(dataset) -> tuple[Any, Any]:
    """``dataset``'s ``hf_features`` and their Arrow schema, taken once and kept on the dataset."""
    if "_mimicrec_hf_features" not in vars(dataset):
        features = dataset.hf_features
        dataset._mimicrec_hf_features = (features, features.arrow_schema)
    return dataset._mimicrec_hf_features


def _from_arrow_columns(from_dict, hf_features, schema) -> classmethod:
    """``Dataset.from_dict`` for ``save_episode``'s one call: the episode as an Arrow table of the features' schema
    (``_EpisodeTable``) where every column converts (``arrow_columns``); ``from_dict`` itself where one does not."""
    import pyarrow as pa

    def build(cls, mapping, features=None, *args: Any, **kwargs: Any):
        columns = arrow_columns(mapping, features) if features is not None else None
        if columns is None:
            return from_dict.__get__(None, cls)(mapping, features, *args, **kwargs)
        table = pa.Table.from_pydict(columns).cast(schema if features is hf_features else features.arrow_schema)
        return _EpisodeTable(table)

    return classmethod(build)


class _EpisodeTable:
    """What ``save_episode`` asks of the episode's ``datasets.Dataset``: its length and its Arrow table (the one
    ``Dataset.from_dict`` builds: the columns cast to the features' schema, whose metadata names the features)."""

    def __init__(self, table) -> None:
        self.table = table

    def __len__(self) -> int:
        return self.table.num_rows

    def with_format(self, type: str) -> _EpisodeTable:  # noqa: A002  (datasets' own argument name)
        if type != "arrow":
            raise NotImplementedError(f"an episode table formats as arrow only, not {type}")
        return self

    def __getitem__(self, key: slice):
        return self.table[key] if key != slice(None) else self.table


def arrow_columns(mapping: Mapping[str, Any], features) -> dict | None:
    """Every column of ``mapping`` as an Arrow array of its ``datasets`` feature's type, exactly the values
    ``datasets`` would encode from it; None when a column is not a numeric array or a list of strings of a
    plain feature (then ``datasets`` encodes the mapping itself)."""
    columns = {}
    for name, values in mapping.items():
        column = _arrow_column(values, features[name])
        if column is None:
            return None
        columns[name] = column
    return columns


def _arrow_column(values, feature):
    """One column as Arrow: a scalar ``Value`` from ``[T]``/``[T, 1]``, a fixed-length ``List`` of values from
    ``[T, N]``; None for anything else."""
    import pyarrow as pa
    from datasets import List, Value

    if isinstance(feature, Value) and feature.dtype == "string":
        return pa.array(values, type=pa.string()) if all(isinstance(v, str) for v in values) else None
    if isinstance(values, list | tuple):
        values = np.asarray(values)
    if not isinstance(values, np.ndarray) or values.dtype.kind not in "biuf":
        return None
    if isinstance(feature, Value) and values.shape in ((len(values),), (len(values), 1)):
        return pa.array(values.reshape(-1).astype(feature.dtype), type=feature.pa_type)
    item = getattr(feature, "feature", None)
    if (isinstance(feature, List) and isinstance(item, Value) and item.dtype != "string"
            and values.shape == (len(values), feature.length)):
        flat = pa.array(values.reshape(-1).astype(item.dtype), type=item.pa_type)
        return pa.FixedSizeListArray.from_arrays(flat, feature.length)
    return None


def _quantiles_from_one_cumsum(stats) -> list[np.ndarray]:
    """``RunningQuantileStats._compute_quantiles`` of ``stats``: per quantile, one value per dimension read from
    its histogram, linearly within the bin where the cumulative count reaches ``q * count``."""
    cumsums = [np.cumsum(histogram) for histogram in stats._histograms]
    targets = [q * stats._count for q in stats._quantile_list]
    per_dim = [_histogram_quantiles(cumsum, edges, targets) for cumsum, edges in zip(cumsums, stats._bin_edges,
                                                                                      strict=True)]
    return [np.array([values[i] for values in per_dim]) for i in range(len(targets))]


def _count_into_histograms(stats, batch: np.ndarray) -> None:
    """``RunningQuantileStats._update_histograms``: add each dimension's counts per bin of ``batch`` ``[N, D]`` to
    its histogram, as ``np.histogram`` counts them (bins closed on the left, the last one on both sides)."""
    bins = stats._num_quantile_bins
    for i, edges in enumerate(stats._bin_edges):
        values = batch[:, i]
        if np.isnan(edges[0]) or np.isnan(edges[-1]):  # a NaN in the first batch: left to numpy's own counting
            stats._histograms[i] += np.histogram(values, bins=edges)[0]
            continue
        inside = values[(values >= edges[0]) & (values <= edges[-1])]  # NaN and values off the edges count nowhere
        index = np.minimum(np.searchsorted(edges, inside, side="right") - 1, bins - 1)
        stats._histograms[i] += np.bincount(index, minlength=bins)


def _histogram_quantiles(cumsum: np.ndarray, edges: np.ndarray, targets: list[float]) -> list:
    """Each target count's value in one histogram (its cumulative counts and bin edges)."""
    values = []
    for index, target in zip(np.searchsorted(cumsum, targets).tolist(), targets, strict=True):
        if index == 0 or index >= len(cumsum):
            values.append(edges[0] if index == 0 else edges[-1])
            continue
        before = cumsum[index - 1]
        in_bin = cumsum[index] - before
        if in_bin == 0:
            values.append(edges[index])
        else:
            values.append(edges[index] + (target - before) / in_bin * (edges[index + 1] - edges[index]))
    return values


def write_deferred_metadata(dataset) -> None:
    """Write the ``info.json`` and ``stats.json`` that ``lean_save_episode`` held back; the statistics in the
    features' order (lerobot aggregates them over a set of names, whose order changes from process to process,
    so its own ``stats.json`` differs between two identical runs)."""
    from lerobot.datasets.utils import write_info, write_stats

    write_info(dataset.meta.info, dataset.meta.root)
    stats = dataset.meta.stats
    if stats is not None:
        ordered = {key: stats[key] for key in dataset.meta.features if key in stats}
        write_stats({**ordered, **{key: value for key, value in stats.items() if key not in ordered}},
                    dataset.meta.root)


def cache_task_indices(meta) -> None:
    """Look each task's index up once: lerobot looks it up in a pandas frame for every frame of an episode."""
    lookup, known = meta.get_task_index, {}

    def task_index(task: str) -> int | None:
        if task not in known:
            index = lookup(task)
            if index is None:
                return None
            known[task] = index
        return known[task]

    meta.get_task_index = task_index
