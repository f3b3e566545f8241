"""Peak calling: per-base attribution tracks -> seqlets and candidate regulatory elements.

Two scales are called:

* **seqlets** — motif-scale stretches (5–30 bp) of unusually high (``+``) or
  unusually negative (``-``) contribution: candidate transcription-factor sites;
* **elements** — clusters of significant seqlets (50–1,000 bp): candidate
  regulatory elements.

The modules, in the order the data flows through them:

``options``
    :class:`PeakOptions` and the names of the peak files and tables.
``stats``
    pure numpy statistics: window sums, local maxima (the tests), the nulls
    (empirical with an exponential tail; Laplace), Benjamini–Hochberg.
``streams``
    tracks served in bounded chunks (:class:`TrackChunk`).
``widths``
    the tests of a ladder of window widths (:class:`LadderTests`), each width
    against its own null, one test per site at its best width, calibrated
    against the same selection on the null.
``extents``
    from a significant window to the seqlet's extent; overlapping seqlets.
``calling``
    significant tests -> seqlet extents -> elements (:func:`call_source`,
    :func:`call_peaks`).
``nulls``
    the shuffled null: attributions of dinucleotide-shuffled copies of a sample
    of the regions (the only module here that runs the model).
``runfolder``
    run folders: :func:`call_peaks_from_run`, narrowPeak/TSV files, ``run.json``,
    the peak stage of ``seqsal attribute`` (:func:`run_peaks_stage`).

Coordinates are 0-based, half-open; ``offset_*`` are positions within a
region's row of ``attributions.npz`` (+ strand), ``start``/``end``/``summit``
genome positions.
"""
from __future__ import annotations

from .calling import PeakCalls, call_peaks, call_source
from .extents import absorb_overlaps
from .nulls import null_rows, shuffled_fetch, write_shuffled_null
from .options import API_COLUMNS, CALL_COLUMNS, NULL_FILE, NULLS, PEAK_FILES, PeakOptions
from .runfolder import (
    call_peaks_from_run,
    describe_calls,
    duplicate_of,
    narrowpeak,
    remove_peak_files,
    run_null_problem,
    run_peaks_stage,
    unique_calls,
    update_run_record,
    write_peak_files,
)
from .stats import (
    LAPLACE_PERCENTILES,
    NullModel,
    benjamini_hochberg,
    block_tests,
    find_candidates,
    laplace_nulls,
    null_statistics,
    sliding_max,
    window_sums,
)
from .streams import ChunkSource, TrackChunk
from .widths import LadderTests

__all__ = [
    "API_COLUMNS", "CALL_COLUMNS", "ChunkSource", "LAPLACE_PERCENTILES", "LadderTests", "NULLS", "NULL_FILE",
    "NullModel", "PEAK_FILES", "PeakCalls", "PeakOptions", "TrackChunk", "absorb_overlaps", "benjamini_hochberg",
    "block_tests", "call_peaks", "call_peaks_from_run", "call_source", "describe_calls", "duplicate_of",
    "find_candidates", "laplace_nulls", "narrowpeak", "null_rows", "null_statistics", "remove_peak_files", "run_null_problem",
    "run_peaks_stage", "shuffled_fetch", "sliding_max", "unique_calls", "update_run_record", "window_sums",
    "write_peak_files", "write_shuffled_null",
]
