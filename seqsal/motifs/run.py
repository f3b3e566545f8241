"""A run folder's motifs: ``attributions.npz`` + seqlets -> discovery -> matching -> ``motifs.*`` files.

The orchestration of the ``seqsal motifs`` command: it reads the run folder,
re-calls lenient seqlets for discovery against the run's null
(:func:`discovery_seqlets`, :data:`DISCOVERY_FDR`), clusters them
(:mod:`~seqsal.motifs.discover`, at most ``max_seqlets`` of each sign), keeps
the motifs that are more frequent in the run's tracks than in its shuffled
null's (:mod:`~seqsal.motifs.support`, :func:`keep_supported`), calls their
instances at an FDR against the same null (:mod:`~seqsal.motifs.instance_run`), and wires
:mod:`~seqsal.motifs.match` and :mod:`~seqsal.motifs.export` to write them.
"""
from __future__ import annotations

import logging
import os
import time
from importlib.resources import files

import pandas as pd

from ..errors import InputError, option
from ..io import atomic_path, region_arrays, write_table_atomic
from ..peaks import call_peaks_from_run, unique_calls
from ..provenance import (ATTRIBUTIONS, check_not_shard, file_digest, read_json_record, read_record, record_written,
                          stale_text, status)
from ..runlock import locks_run_folder
from ..tables import read_tsv
from ..text import plural
from .discover import DiscoveredMotif, DiscoveryOptions, discover_motifs
from .export import (MODISCO_PEAKS, instance_table, motif_table, write_modisco_h5, write_modisco_peaks,
                     write_motif_arrays)
from .instance_run import instance_calls, write_calls
from .match import best_matches, compare_motifs, small_database_warning
from .jaspar import JasparQuery, resolve_database
from .meme import read_meme, write_meme
from .seqlets import RowCache, read_seqlet_table, seqlet_score_mismatch
from .sides import check_null_genome, folder_sides
from .support import REDUNDANCY_COLUMNS, SupportOptions, side_parameters, support_of_sides

log = logging.getLogger("seqsal")

BUNDLED_DATABASE = str(files("seqsal") / "data" / "jaspar_subset.meme")
"""The bundled JASPAR CORE subset (17 motifs, CC BY 4.0), package data of ``seqsal`` (see data/motifs/README.md)."""


def default_database() -> str | None:
    """The bundled JASPAR subset (17 CORE motifs, CC BY 4.0), if this install has it."""
    return BUNDLED_DATABASE if os.path.isfile(BUNDLED_DATABASE) else None


DISCOVERY_CACHE_BYTES = 1 << 28
"""Rows of ``attributions.npz`` discovery keeps in memory between its passes (:class:`RowCache`): 256 MB holds
the one-hot and hypothetical rows of 8 Mbp; larger runs re-read the least recently used rows."""

DISCOVERY_WIDTHS = (24,)
"""Window width of the discovery re-call, and of the windows its support test counts (:func:`run_motifs`).

One width, wide enough to hold a whole site: discovery compares 20-bp cores
(:class:`~seqsal.motifs.discover.DiscoveryOptions`), and a motif whose
contribution is spread over its ~20 bp at a low level per base (CTCF's 19 bp on
a max-pool model) stands out of the null over 24 bp but not over 6, where
short sharp words of the null (and the stronger motifs next to it) reach as
high. At 6 bp (the width of sessions 6-7), ``rcmaxpool_A`` on the 5-Mbp world
``A_large`` gave 117 + seqlets on planted CTCF sites, mostly centred on the
stronger motifs next to them (their windows fit the FOS::JUN, GATA1::TAL1 and
Spi1 templates at a cosine of 0.90, no CTCF cluster formed), and its support
test counted 69 CTCF windows against 0 in the null (p 0.0014, short of the
Bonferroni level): CTCF was missed, where tfmodisco-lite (21-bp windows) found
it. At 24 bp: 248 seqlets on CTCF sites, a CTCF cluster of 125 (110 on planted
CTCF), kept (benchmarks/RESULTS.md, session 8). Widths 16, 20 and 24 all find
it there, 10 does not; the demo keeps 6 of 6 at each. The calls' ladder (6,
10, 16, 24) merges the windows of one site into one seqlet centred between
motifs (118 on CTCF sites) and made the demo's GATA1::TAL1 twice (session 6)."""

DISCOVERY_FDR = 0.9
"""FDR of the seqlets that discovery clusters by default, re-called from the run's tracks against its null.

The null is the run's shuffled null (``null.npz``) when it has one, else the
Laplace null fitted to the run's own tests. Against the shuffled null the FDR
bounds the expected share of noise among the seqlets clustered (at most 90 %),
so their number grows with the evidence (the seqlets in excess of the null),
not with the length of the run: on a max-pool model trained elsewhere
(``rcmaxpool_A`` of benchmarks/zoo, 5 Mbp of regions) 10,569 seqlets, where
the old default (FDR 0.85 against the Laplace null) re-called 271,225.
Lenient, because a weak motif needs instances to cluster, and the noise it
lets in is removed by the support test against the same null
(:mod:`seqsal.motifs.support`). Planted motifs found / spurious / redundant
(motifs the model does not use are not counted as missed; 6-bp windows, before :data:`DISCOVERY_WIDTHS` was 24):

=========================================  =========  =========  ==========
run                                        FDR 0.8    FDR 0.9    FDR 0.95
=========================================  =========  =========  ==========
demo (6 motifs)                            6 / 0 / 0  6 / 0 / 0  6 / 1 / 0
rcmaxpool_A on world A (uses 3)            3 / 0 / 0  3 / 0 / 0  3 / 0 / 0
rcmaxpool_A, world A_large (5 Mbp; 3)      2 / 0 / 0  3 / 0 / 0  3 / 0 / 0
demo model, world A_large (5 Mbp; 6)       6 / 0 / 1  6 / 0 / 3  5 / 0 / 2
demo model on a shuffled demo genome       0 motifs   0          0
=========================================  =========  =========  ==========

(FDR 0.5 gives 5 of the 6 on the demo: CTCF, whose sites carry about as much
per base as the background, has too few seqlets.) Against the Laplace null
(no ``null.npz``) motifs are not tested.
"""


INSTANCE_FDR = 0.05
"""Default FDR of the motif instance calls (``motif_calls.tsv``; :mod:`seqsal.motifs.instances`)."""

DISCOVERY_PREFIX = "discovery"
"""Name prefix of the seqlets re-called for discovery (``discovery_000001``), distinct from ``seqlets.tsv``'s."""


def discovery_seqlets(out_dir: str | os.PathLike, fdr: float = DISCOVERY_FDR, null: str | None = None) -> pd.DataFrame:
    """Seqlets of a run folder re-called for discovery at ``fdr`` (no file is written).

    Parameters
    ----------
    out_dir
        The run folder (``attributions.npz``, ``regions.tsv``; ``null.npz`` for the shuffled null).
    fdr
        Benjamini-Hochberg FDR of the calls, in ``(0, 1]``: one family over both signs
        (:class:`~seqsal.peaks.PeakOptions` ``bh_family="joint"``), not the caller's family per sign: these are
        lenient seeds whose noise the support test removes, and under a family per sign the zoo's motif calls
        moved by -0.095 to +0.064 F1 per model (benchmarks/RESULTS.md, sessions 28-29).
    null
        ``shuffle`` or ``laplace``; None: ``shuffle`` when the folder holds ``null.npz``, else ``laplace``.

    Returns
    -------
    pandas.DataFrame
        The columns of ``seqlets.tsv`` (``name``, ``region_index``, ``offset_start``,
        ``offset_end``, ``sign``, ``pvalue``, ...), one row per seqlet (repeats of a site seen from
        overlapping regions left out); ``attrs["null"]`` names the null used. The seqlets are named
        ``discovery_000001, ...`` (:data:`DISCOVERY_PREFIX`), in genome order: they are not the calls of
        ``seqlets.tsv`` (``seqlet_*``), and ``motif_instances.tsv`` carries these names.
    """
    record = os.path.join(out_dir, "run.json")
    peaks = (read_json_record(record).get("peaks") or {}) if os.path.exists(record) else {}
    calls = call_peaks_from_run(out_dir, write=False, elements=False, fdr=fdr, null=null,
                                test_widths=DISCOVERY_WIDTHS, bh_family="joint",
                                signs=(peaks.get("options") or {}).get("signs", "+-"))  # not a sign withheld
    seqlets = unique_calls(calls.seqlets).reset_index(drop=True)
    seqlets["name"] = [f"{DISCOVERY_PREFIX}_{k + 1:06d}" for k in range(len(seqlets))]
    seqlets.attrs["null"] = calls.info["null"]
    return seqlets


@locks_run_folder("motifs")
def run_motifs(
    out_dir: str | os.PathLike,
    seqlets_path: str | os.PathLike | None = None,
    database: str | os.PathLike | None = None,
    options: DiscoveryOptions | None = None,
    progress: bool = True,
    seqlet_fdr: float = DISCOVERY_FDR,
    support_options: SupportOptions | None = None,
    jaspar: JasparQuery | None = None,
    instance_fdr: float = INSTANCE_FDR,
) -> dict:
    """Discover motifs from a run folder's seqlets and (optionally) match them to a database.

    Discovery follows tfmodisco-lite (Shrikumar et al. 2018; :func:`discover_motifs`); matching is TOMTOM-style
    (Gupta et al. 2007; :func:`compare_motifs`), with Benjamini–Hochberg q-values; instance calls are a
    target-decoy FDR against the shuffled null (Elias & Gygi 2007; Storey 2002; knockoff+, Barber & Candès 2015;
    :mod:`~seqsal.motifs.instances`).

    Reads ``attributions.npz`` and ``regions.tsv``; the seqlets are those of
    ``seqlets_path`` when given (e.g. the run's ``seqlets.tsv``), else the run's
    tracks re-called at ``seqlet_fdr`` (:func:`discovery_seqlets`). Motifs that are
    no more frequent in the run's tracks than in its shuffled null's are dropped
    (:func:`~seqsal.motifs.support.support_table`, :func:`keep_supported`; not
    tested, with a warning, when the run has no ``null.npz``). Writes
    ``motifs.meme``, ``motifs.tsv``, ``motifs.h5`` (tfmodisco-lite layout, :func:`write_modisco_h5`),
    ``motifs.npz`` (CWM, hypothetical CWM and PWM per motif, keys
    ``<motif>.<matrix>``: :func:`write_motif_arrays`), ``motif_instances.tsv``
    and, with a database, ``motif_matches.tsv`` (the 5 best matches of each motif). With a usable null, the
    kept motifs' instances among all the run's test windows are called at FDR ``instance_fdr``
    (:mod:`~seqsal.motifs.instances`): ``motif_calls.tsv``, ``motif_calls.bed`` and ``motifs.tsv``'s ``n_calls``,
    ``call_cut`` and ``call_min_fdr``.

    Parameters
    ----------
    out_dir
        The run folder (``seqsal attribute``'s output); the files are written there.
    seqlets_path
        A seqlet table to cluster (:func:`read_seqlet_table`), or None to re-call the run's tracks.
    database
        Known motifs to match against (:func:`compare_motifs`), as ``seqsal motifs --database`` takes them
        (:func:`~seqsal.motifs.jaspar.resolve_database`): None (the default, as the CLI's) for the bundled JASPAR
        CORE subset (:data:`BUNDLED_DATABASE`), ``"none"`` for no matching, ``"jaspar"`` for a JASPAR release
        (``jaspar``), or the path of a MEME file (read and checked before discovery).
    options
        :class:`DiscoveryOptions` (defaults when None).
    progress
        Show progress bars.
    seqlet_fdr
        FDR of the re-called seqlets, in ``(0, 1]`` (the null's when the run has ``null.npz``, else
        Laplace), and of the windows the support test counts.
    support_options
        :class:`~seqsal.motifs.support.SupportOptions` (defaults, with ``options.seed`` and the windows of
        :data:`DISCOVERY_WIDTHS`, when None).
    jaspar
        With ``database="jaspar"``: the :class:`~seqsal.motifs.jaspar.JasparQuery` (release, collection,
        taxonomic group; the newest release's CORE vertebrates when None).
    instance_fdr
        FDR of the motif instance calls, in ``(0, 1]``.

    Returns
    -------
    dict
        ``motifs`` (list of :class:`DiscoveredMotif`, those kept), ``table`` (``motifs.tsv``), ``matches``,
        ``support`` (the support rows of the kept motifs, or None without a null), ``dropped`` (motifs
        that failed the support test), ``calls`` (``motif_calls.tsv``, or None without a null), ``n_seqlets``
        (seqlets given to discovery) and ``timing_seconds``.

    Raises
    ------
    InputError
        When ``attributions.npz`` lacks ``one_hot``/``hypothetical``, ``regions.tsv`` is missing, the seqlet
        table is bad or names other regions than ``regions.tsv``'s
        (:func:`~seqsal.motifs.seqlets.seqlet_region_mismatch`), the database is missing or malformed
        (:func:`read_meme`), or ``seqlet_fdr`` or ``instance_fdr`` is out of range; when the run has not finished
        or another seqsal process holds the folder's lock.
    """
    out = str(out_dir)
    started = time.perf_counter()
    options = options or DiscoveryOptions()
    check_not_shard(out, "motifs")
    if seqlets_path is not None and not isinstance(seqlets_path, (str, os.PathLike)):
        raise InputError(f"{option('seqlets_path')} is the path of a seqlet table, not a {type(seqlets_path).__name__}; "
                         "write the table first (DataFrame.to_csv(path, sep='\\t', index=False)) and give its path")
    # the support test counts the windows the discovery seqlets were called from
    support_options = support_options or SupportOptions(seed=options.seed, test_width=DISCOVERY_WIDTHS[0])
    arrays = region_arrays(os.path.join(out, "attributions.npz"), ("one_hot", "hypothetical"))
    lengths = arrays.lengths
    regions = read_tsv(os.path.join(out, "regions.tsv")) if os.path.isfile(
        os.path.join(out, "regions.tsv")) else None
    if regions is None:
        raise InputError("regions.tsv not found; run `seqsal attribute` first", out)
    if not 0 < seqlet_fdr <= 1:
        raise InputError(f"{option('seqlet_fdr')} must be in (0, 1], got {seqlet_fdr}")
    if not 0 < instance_fdr <= 1:
        raise InputError(f"{option('instance_fdr')} must be in (0, 1], got {instance_fdr}")
    if options.max_seqlets < options.min_seqlets:
        raise InputError(f"{option('max_seqlets')} {options.max_seqlets} is below {option('min_seqlets')} "
                         f"{options.min_seqlets}: no cluster could hold enough seqlets to be a motif; raise it")
    database = resolve_database(database, jaspar)
    known = read_meme(database) if database else None  # a bad file is refused before the minutes of discovery
    for warning in small_database_warning(len(known), database) if known is not None else ():
        log.warning("%s", warning)  # before discovery too: the user may stop and give a larger one
    check_null_genome(out)  # so is a genome gone or changed that the null's sequences are redrawn from
    if seqlets_path:
        if _is_own_seqlets(out, seqlets_path) and status(out, "calls") == "stale":
            raise InputError(f"{stale_text(out, 'calls')} first: its seqlets are not those of this folder's "
                             "attributions", str(seqlets_path))
        seqlets = read_seqlet_table(seqlets_path, regions, lengths)
        if seqlets.empty:  # said here, not by the reader: check-seqlets reads the table too (fresh31)
            log.warning("%s: the seqlet table holds no seqlets (a header only): no motif can be found", seqlets_path)
        if (off := seqlet_score_mismatch(seqlets, arrays)) is not None:
            raise InputError(f"the seqlet's score {off[1]:.4g} is not the sum of this folder's track over it "
                             f"({off[2]:.4g} here): a seqlet table of another run (another method or model) over "
                             "the same regions; give this folder's seqlets.tsv, or re-call it (`seqsal call-peaks`)",
                             str(seqlets_path), off[0] + 2)
    else:
        seqlets = discovery_seqlets(out, seqlet_fdr)
        log.info("seqlets for discovery re-called from the tracks at FDR %g (%s null)", seqlet_fdr,
                 "shuffled" if seqlets.attrs.get("null") == "shuffle" else "Laplace")
    log.info("discovering motifs from %s (%d +, %d -)", plural(len(seqlets), "seqlet"),
             int((seqlets["sign"] == "+").sum()),
             int((seqlets["sign"] == "-").sum()))
    found = discover_motifs(RowCache(arrays["one_hot"], DISCOVERY_CACHE_BYTES // 2),
                            RowCache(arrays["hypothetical"], DISCOVERY_CACHE_BYTES // 2), lengths, seqlets, options,
                            progress)
    t_discover = time.perf_counter() - started
    sides = folder_sides(out, seqlet_fdr, *side_parameters(support_options))  # read once: support and calls
    support = support_of_sides(sides, found, support_options)
    motifs, support = keep_supported(found, support, support_options.min_enrichment)
    t_support = time.perf_counter() - started - t_discover
    called = None if support is None else instance_calls(sides, motifs, support["support_match"].to_numpy(), regions,
                                                         support_options, instance_fdr)
    if support is None:
        log.info("no motif instance calls: the run has no usable shuffled null (see above)")
    t_calls = time.perf_counter() - started - t_discover - t_support
    matches = None
    if known is not None:
        matches = compare_motifs([m.to_motif() for m in motifs], known)  # no motif: a table of no rows
        write_table_atomic(os.path.join(out, "motif_matches.tsv"), best_matches(matches, 5))  # always, as a workflow
        # step declares it (no motif: the header alone)
        log.info("matched %s against %s of %s", plural(len(motifs), "motif"), plural(len(known), "known motif"),
                 database)
    if matches is None and os.path.isfile(os.path.join(out, "motif_matches.tsv")):
        os.unlink(os.path.join(out, "motif_matches.tsv"))  # an earlier run's matches would name other motifs
    table = motif_table(motifs, matches, support)
    table["n_calls"] = called[1]["n_calls"].to_numpy() if called is not None else pd.NA
    table["call_cut"] = called[1]["call_cut"].to_numpy() if called is not None else pd.NA
    table["call_min_fdr"] = called[1]["min_fdr"].to_numpy() if called is not None else pd.NA  # rounded up
    # the record's key files first: a write that fails part-way leaves them changed, so the folder's motifs read
    # as stale (provenance), never as an earlier run's key files beside this run's motifs.meme
    write_table_atomic(os.path.join(out, "motifs.tsv"), table)
    write_table_atomic(os.path.join(out, "motif_instances.tsv"), instance_table(motifs, regions, seqlets))
    write_motif_arrays(os.path.join(out, "motifs.npz"), motifs)
    write_calls(out, called[0] if called is not None else None)
    write_meme(os.path.join(out, "motifs.meme"), [m.to_motif() for m in motifs])
    with atomic_path(os.path.join(out, "motifs.h5")) as tmp:
        write_modisco_h5(tmp, motifs, arrays["one_hot"], arrays["hypothetical"], lengths)
    write_modisco_peaks(os.path.join(out, MODISCO_PEAKS), regions,  # for modisco's seqlet-bed -p (fresh27a)
                        [max(lengths, default=0) // 2] * len(regions))
    _record(out, seqlets_path, database)
    timing = {"discovery": round(t_discover, 3), "support": round(t_support, 3), "instance_calls": round(t_calls, 3),
              "total": round(time.perf_counter() - started, 3)}
    log.info("%s in %.1f s -> %s", plural(len(motifs), "motif"), timing["total"], os.path.join(out, "motifs.meme"))
    return {"motifs": motifs, "table": table, "matches": matches, "support": support,
            "calls": called[0] if called is not None else None, "dropped": len(found) - len(motifs),
            "n_seqlets": len(seqlets), "timing_seconds": timing}


def _is_own_seqlets(out: str, seqlets_path: str | os.PathLike) -> bool:
    return os.path.abspath(seqlets_path) == os.path.abspath(os.path.join(out, "seqlets.tsv"))


def _record(out: str, seqlets_path: str | os.PathLike | None, database: str | None) -> None:
    """Record what the motifs were derived from (the attributions; the calls when the seqlets are the folder's
    ``seqlets.tsv``; another table by its digest) and the MEME file they were matched against (``database``, None
    when not matched; :func:`matched_database` reads it back), and remove what was drawn from earlier motifs."""
    own = bool(seqlets_path) and _is_own_seqlets(out, seqlets_path)
    extra = {"seqlet_table": {"path": os.path.abspath(seqlets_path), "sha256": file_digest(seqlets_path)}} \
        if seqlets_path and not own else {}
    extra["database"] = os.path.abspath(database) if database else None
    record_written(out, "motifs", (ATTRIBUTIONS, "calls") if own else (ATTRIBUTIONS,), extra=extra)


def matched_database(out: str | os.PathLike) -> str | None:
    """The MEME file ``seqsal motifs`` matched this folder's motifs against, when it is still there (else None)."""
    record = read_record(out, "motifs") or {}
    database = record.get("database")
    return database if isinstance(database, str) and os.path.isfile(database) else None


def keep_supported(motifs: list[DiscoveredMotif], support: pd.DataFrame | None,
                   min_enrichment: float = SupportOptions.min_enrichment
                   ) -> tuple[list[DiscoveredMotif], pd.DataFrame | None]:
    """The motifs that pass the support test, renamed ``pos_1, 2, ...`` / ``neg_1, ...`` in order (the others logged).

    Parameters
    ----------
    motifs
        Discovered motifs.
    support
        Their :func:`~seqsal.motifs.support.support_table` (same order), or None (no null: all kept).
    min_enrichment
        :class:`~seqsal.motifs.support.SupportOptions`'s, to say which criterion a dropped motif failed.

    Returns
    -------
    motifs, support
        The kept motifs and their rows of ``support`` (``motif`` renamed with them; None stays None).
    """
    if support is None:
        return motifs, None
    passes = support["passes"].to_numpy(bool)
    ranks = {"+": 0, "-": 0}
    final = {}  # a kept motif's name after renaming: the log names a dropped one by its sign and consensus only
    for motif in (motif for motif, ok in zip(motifs, passes) if ok):  # (fresh24b: "dropped pos_4", a kept name)
        ranks[motif.sign] += 1
        final[motif.name] = f"{'pos' if motif.sign == '+' else 'neg'}_{ranks[motif.sign]}"
    consensus = {motif.name: motif.consensus for motif in motifs}
    for motif, row in zip(motifs, support.itertuples(index=False)):
        if not row.passes and getattr(row, "redundant_with", ""):
            log.info("dropped a %s motif (%s): a copy of %s: on the windows where no motif kept before it matches "
                     "the same bases at least as well, %d supporting seqlets against %d in the null, enrichment "
                     "%.2f, p %.3g (all windows: %d against %d, enrichment %.2f, p %.3g)", motif.sign,
                     motif.consensus, f"{final.get(row.redundant_with, row.redundant_with)} "
                                      f"({consensus.get(row.redundant_with, '?')})",
                     row.n_unexplained_seqlets, row.n_null_unexplained_seqlets,
                     row.unexplained_enrichment, row.unexplained_pvalue, row.n_support_seqlets, row.n_null_seqlets,
                     row.enrichment, row.support_pvalue)
        elif not row.passes:
            log.info("dropped a %s motif (%s): %d supporting seqlets against %d in the null (%.1f expected over "
                     "the run's bases; PWM matches >= %g of the best), enrichment %.2f, p %.3g: %s", motif.sign,
                     motif.consensus, row.n_support_seqlets, row.n_null_seqlets, row.expected_null_seqlets,
                     row.support_match, row.enrichment, row.support_pvalue,
                     f"enrichment below the minimum {min_enrichment:g}" if row.enrichment < min_enrichment else
                     "no more frequent than in shuffled sequence (p above the Bonferroni level)")
    kept = [motif for motif, ok in zip(motifs, passes) if ok]
    for motif in kept:
        motif.name = final[motif.name]
    support = support[passes].drop(columns=["passes", *REDUNDANCY_COLUMNS], errors="ignore").reset_index(drop=True)
    support["motif"] = [motif.name for motif in kept]
    if len(kept) < len(motifs):
        log.info("%s of %s pass the support test against the shuffled null", plural(len(kept), "motif"),
                 len(motifs))
    return kept, support
