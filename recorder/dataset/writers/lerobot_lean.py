"""lerobot's own ``save_episode``, run without the costs that buy nothing when a whole episode is handed over.

Everything here is scoped to one ``save_episode`` call (``lean_save_episode``) or one dataset, and leaves the
files byte-identical to lerobot as shipped (tests/recorder/test_writers.py compares them, videos included).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

BYTE_VALUES = np.arange(256)
BYTE_SQUARES = (np.arange(256, dtype=np.uint8) ** 2).astype(np.int64)  # what uint8 frames squared hold


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
    - the episode statistics fill a 5,000-bin histogram per dimension, one dimension at a time, and sum it once
      per quantile; the same quantiles come from the values' sorted bin numbers, all dimensions of all the
      episode's vector features of one type at once (``_episode_stats``: the same arithmetic, so the same values
      and types), and the dataset's statistics fold in each episode's without stacking copies of both
      (``_aggregate_pair``);
    - the video statistics (updated per frame and camera while the encoder threads encode) read each 8-bit
      frame through one count per byte value and channel (``_byte_statistics_class``);
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
    swaps += [(compute_stats, "RunningQuantileStats", _byte_statistics_class()),
              (compute_stats, "get_feature_stats", _feature_stats(compute_stats.get_feature_stats)),
              (compute_stats, "aggregate_feature_stats", _aggregate_pair(compute_stats.aggregate_feature_stats)),
              (lerobot_dataset, "compute_episode_stats", _episode_stats(lerobot_dataset.compute_episode_stats))]
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


def _feature_stats(shipped):
    """``compute_stats.get_feature_stats`` computing one batch's statistics for all its dimensions at once
    (``_one_batch_statistics``) where every value is a finite number; ``shipped`` for anything else."""
    from lerobot.datasets import compute_stats

    def get_feature_stats(array, axis, keepdims, quantile_list=None):
        batch, sample_count = compute_stats._prepare_array_for_stats(array, axis)
        if batch.ndim != 2 or len(batch) < 2 or batch.dtype.kind not in "biuf" or not np.isfinite(batch).all():
            return shipped(array, axis, keepdims, quantile_list)
        stats = _one_batch_statistics(batch, compute_stats.RunningQuantileStats())
        if stats is None:
            return shipped(array, axis, keepdims, quantile_list)
        stats["count"] = np.array([sample_count])
        return compute_stats._reshape_stats_by_axis(stats, axis, keepdims, array.shape)

    return get_feature_stats


def _episode_stats(shipped):
    """``compute_stats.compute_episode_stats`` finding the quantiles of all plain vector features of one type
    together (``_quantile_values`` on their columns side by side; each column's arithmetic is its own), their
    other statistics feature by feature; ``shipped`` for every other feature (and where a group's values would
    fall outside a histogram). The statistics in the episode's order, as lerobot's."""
    from lerobot.datasets import compute_stats

    def compute_episode_stats(episode_data, features, quantile_list=None):
        vectors = {key: data for key, data in episode_data.items() if _plain_vector(features[key], data)}
        stats = shipped({key: data for key, data in episode_data.items() if key not in vectors}, features,
                        quantile_list)
        groups: dict[tuple[np.dtype, int], dict[str, np.ndarray]] = {}
        for key, data in vectors.items():
            groups.setdefault((data.dtype, len(data)), {})[key] = data
        for group in groups.values():
            found = _vector_group_stats(group, compute_stats.RunningQuantileStats())
            stats |= found if found is not None else shipped(group, features, quantile_list)
        return {key: stats[key] for key in episode_data if key in stats}

    return compute_episode_stats


def _plain_vector(feature: Mapping[str, Any], data) -> bool:
    """A numeric ``[T]`` or ``[T, N]`` array of finite values over at least two frames (no image or video)."""
    return (feature["dtype"] not in ("string", "image", "video") and isinstance(data, np.ndarray)
            and data.ndim in (1, 2) and len(data) >= 2 and data.dtype.kind in "biuf" and bool(np.isfinite(data).all()))


def _vector_group_stats(group: Mapping[str, np.ndarray], running) -> dict | None:
    """``get_feature_stats(data, 0, data.ndim == 1)`` of every array of ``group`` (one dtype, one length), the
    quantiles of all their columns found at once; None when a value would fall outside its histogram."""
    from lerobot.datasets import compute_stats

    columns = [data.reshape(len(data), -1) for data in group.values()]
    moments = [_one_batch_moments(batch) for batch in columns]
    low, high = (np.concatenate([m[key] for m in moments]) for key in ("min", "max"))
    found = _quantile_values(np.concatenate(columns, axis=1), low, high, running)
    if found is None:
        return None
    stats, start = {}, 0
    for (key, data), batch, moment in zip(group.items(), columns, moments, strict=True):
        rows = slice(start, start + batch.shape[1])
        start = rows.stop
        quantiles = _quantiles_typed(*(part[rows] for part in found))
        feature = moment | dict(zip(running._quantile_keys, quantiles, strict=True))
        stats[key] = compute_stats._reshape_stats_by_axis(feature, 0, data.ndim == 1, data.shape)
    return stats


def _one_batch_statistics(batch: np.ndarray, running) -> dict | None:
    """What ``running`` (a fresh ``RunningQuantileStats``) returns after one ``update(batch)``, the same
    arithmetic on whole columns; None when a value would fall outside its histogram (lerobot counts it nowhere)."""
    stats = _one_batch_moments(batch)
    quantiles = _one_batch_quantiles(batch, stats["min"], stats["max"], running)
    return None if quantiles is None else stats | dict(zip(running._quantile_keys, quantiles, strict=True))


def _one_batch_moments(batch: np.ndarray) -> dict:
    """``running``'s minimum, maximum, mean, std and count after one ``update(batch)``: its running means
    moved as lerobot moves them (a mean's float32 sum over one column differs from its sum beside others, so
    these are taken feature by feature)."""
    length = len(batch)
    mean, mean_of_squares = np.mean(batch, axis=0), np.mean(batch**2, axis=0)
    low, high = np.min(batch, axis=0), np.max(batch, axis=0)
    mean += (np.mean(batch, axis=0) - mean) * (length / length)  # update()'s running means, as lerobot moves them
    mean_of_squares += (np.mean(batch**2, axis=0) - mean_of_squares) * (length / length)
    return {"min": low.copy(), "max": high.copy(), "mean": mean.copy(),
            "std": np.sqrt(np.maximum(0, mean_of_squares - mean**2)), "count": np.array([length])}


def _one_batch_quantiles(batch: np.ndarray, low, high, running) -> list[np.ndarray] | None:
    """``running``'s quantiles of one batch without its histograms (``_quantile_values``), in lerobot's types."""
    found = _quantile_values(batch, low, high, running)
    return None if found is None else _quantiles_typed(*found)


def _quantile_values(batch: np.ndarray, low, high, running) -> tuple[np.ndarray, ...] | None:
    """Each dimension's quantiles of one batch (``[dims, quantiles]``), its histogram's first edge and where a
    quantile falls in the first bin; None when a value would fall outside its histogram. lerobot reads quantile
    ``q`` in the first bin whose cumulative count reaches ``q * N``: the bin of the ``ceil(q * N)``-th smallest
    value, with the counts before and in that bin found in the values' sorted bin numbers (each dimension's
    offset past the last's). Every dimension's arithmetic is its own."""
    bins, (length, dims) = running._num_quantile_bins, batch.shape
    targets = np.array([q * length for q in running._quantile_list])
    edges = _bin_edges(low - 1e-10, high + 1e-10, bins)
    outside = (batch < edges[:, 0]) | (batch > edges[:, -1])
    if outside.any() or not ((0 < targets) & (np.ceil(targets) <= length)).all():
        return None
    sorted_bins = np.sort(np.stack([np.searchsorted(row, column, side="right") for row, column
                                    in zip(edges, batch.T, strict=True)]) - 1, axis=1)
    np.minimum(sorted_bins, bins - 1, out=sorted_bins)  # a value on the last edge is in the last bin
    index = sorted_bins[:, np.ceil(targets).astype(int) - 1]  # [dims, quantiles]
    offsets, flat = np.arange(dims)[:, None], (sorted_bins + np.arange(dims)[:, None] * bins).ravel()
    before = np.searchsorted(flat, index + offsets * bins, side="left") - offsets * length
    in_bin = np.searchsorted(flat, index + offsets * bins, side="right") - offsets * length - before
    left, right = np.take_along_axis(edges, index, axis=1), np.take_along_axis(edges, index + 1, axis=1)
    values = left + (targets - before.astype(np.float64)) / in_bin.astype(np.float64) * (right - left)
    return values, edges[:, 0].copy(), index == 0


def _quantiles_typed(values: np.ndarray, first_edges: np.ndarray, at_first_edge: np.ndarray) -> list[np.ndarray]:
    """One feature's quantiles (a ``[dims]`` array each) from ``_quantile_values``' rows of its dimensions: lerobot
    returns the first edge itself in the first bin, so a quantile all of first edges keeps the edges' type."""
    return [first_edges.copy() if at_first.all() else np.where(at_first, first_edges, column)
            for column, at_first in zip(values.T, at_first_edge.T, strict=True)]


def _bin_edges(start: np.ndarray, stop: np.ndarray, bins: int) -> np.ndarray:
    """``np.linspace(start[i], stop[i], bins + 1)`` for every i, as rows: one call per kind of step (numpy
    takes another path for all of a call's rows when one row's step is zero)."""
    step_is_zero = np.subtract(stop, start, dtype=np.result_type(start, stop, 1.0).type) / bins == 0
    edges = np.empty((len(start), bins + 1), dtype=np.result_type(start, stop, 1.0))
    for rows in (step_is_zero, ~step_is_zero):
        if rows.any():
            edges[rows] = np.linspace(start[rows], stop[rows], bins + 1, axis=1)
    return edges


def _aggregate_pair(shipped):
    """``compute_stats.aggregate_feature_stats`` for the two statistics ``save_episode`` folds together (the
    dataset's so far and the new episode's): the same arithmetic, row by row instead of on stacked copies;
    ``shipped`` for any other number."""

    def aggregate_feature_stats(stats_ft_list):
        if len(stats_ft_list) != 2:
            return shipped(stats_ft_list)
        first, second = stats_ft_list
        total_count = first["count"] + second["count"]
        total_mean = (first["mean"] * first["count"] + second["mean"] * second["count"]) / total_count
        weighted_variances = [(stats["std"] ** 2 + (stats["mean"] - total_mean) ** 2) * stats["count"]
                              for stats in stats_ft_list]
        aggregated = {"min": np.minimum(first["min"], second["min"]), "max": np.maximum(first["max"], second["max"]),
                      "mean": total_mean, "std": np.sqrt((weighted_variances[0] + weighted_variances[1]) / total_count),
                      "count": total_count}
        for key in [key for key in first if key.startswith("q") and key[1:].isdigit() and key in second]:
            aggregated[key] = (first[key] * first["count"] + second[key] * second["count"]) / total_count
        return aggregated

    return aggregate_feature_stats


@functools.cache
def _byte_statistics_class():
    """``RunningQuantileStats`` whose ``update`` of 8-bit frames (lerobot's streaming video statistics, one
    update per frame and camera) reads everything from one count per byte value and channel: the means as the
    counts' exact integer sums, the histogram by mapping the 256 possible values to their bins; and whose
    histograms move to a wider range without a Python loop over their 5,000 bins. The same values as lerobot's."""
    from lerobot.datasets import compute_stats

    class ByteFrameStatistics(compute_stats.RunningQuantileStats):
        def update(self, batch: np.ndarray) -> None:
            batch = batch.reshape(-1, batch.shape[-1])
            if batch.dtype != np.uint8 or len(batch) == 0:
                return super().update(batch)
            counts = np.stack([np.bincount(column, minlength=256) for column in batch.T])  # [D, 256]
            length, seen = len(batch), counts > 0
            batch_mean = (counts @ BYTE_VALUES).astype(np.float64) / length  # np.mean's float64 sum is exact here
            batch_mean_of_squares = (counts @ BYTE_SQUARES).astype(np.float64) / length  # uint8 ** 2 wraps
            batch_min = seen.argmax(axis=1).astype(np.uint8)
            batch_max = (255 - seen[:, ::-1].argmax(axis=1)).astype(np.uint8)
            self._update_running(length, batch_mean, batch_mean_of_squares, batch_min, batch_max)
            self._count_values(counts)
            return None

        def _update_running(self, length, batch_mean, batch_mean_of_squares, batch_min, batch_max) -> None:
            """``update``'s bookkeeping, line for line, on the batch's own means, minima and maxima."""
            if self._count == 0:
                self._mean, self._mean_of_squares = batch_mean.copy(), batch_mean_of_squares.copy()
                self._min, self._max = batch_min, batch_max
                self._histograms = [np.zeros(self._num_quantile_bins) for _ in range(len(batch_mean))]
                self._bin_edges = [np.linspace(self._min[i] - 1e-10, self._max[i] + 1e-10, self._num_quantile_bins + 1)
                                   for i in range(len(batch_mean))]
            else:
                if len(batch_mean) != self._mean.size:
                    raise ValueError("The length of new vectors does not match the initialized vector length.")
                changed = np.any(batch_max > self._max) or np.any(batch_min < self._min)
                self._max, self._min = np.maximum(self._max, batch_max), np.minimum(self._min, batch_min)
                if changed:
                    self._adjust_histograms()
            self._count += length
            self._mean += (batch_mean - self._mean) * (length / self._count)
            self._mean_of_squares += (batch_mean_of_squares - self._mean_of_squares) * (length / self._count)

        def _count_values(self, counts: np.ndarray) -> None:
            """Add each byte value's count to the bin ``np.histogram`` puts it in (none outside the edges)."""
            for histogram, edges, value_counts in zip(self._histograms, self._bin_edges, counts, strict=True):
                inside = (BYTE_VALUES >= edges[0]) & (BYTE_VALUES <= edges[-1]) & (value_counts > 0)
                index = np.minimum(np.searchsorted(edges, BYTE_VALUES[inside], side="right") - 1, len(histogram) - 1)
                histogram += np.bincount(index, weights=value_counts[inside], minlength=len(histogram))

        def _adjust_histograms(self) -> None:
            """lerobot's: each old bin's count goes to the new bin holding the old bin's centre."""
            bins = self._num_quantile_bins
            for i, (old_edges, old_histogram) in enumerate(zip(self._bin_edges, self._histograms, strict=True)):
                padding = (self._max[i] - self._min[i]) * 1e-10
                new_edges = np.linspace(self._min[i] - padding, self._max[i] + padding, bins + 1)
                filled = old_histogram > 0
                centres = ((old_edges[:-1] + old_edges[1:]) / 2)[filled]
                index = np.clip(np.searchsorted(new_edges, centres) - 1, 0, bins - 1)
                self._histograms[i] = np.bincount(index, weights=old_histogram[filled], minlength=bins)
                self._bin_edges[i] = new_edges

    return ByteFrameStatistics


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
