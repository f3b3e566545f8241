"""Discovered motifs out to the run folder: ``motifs.tsv``, ``motif_instances.tsv``, ``motifs.npz`` and ``motifs.h5``.

``motifs.h5`` is in tfmodisco-lite's HDF5 layout (Shrikumar et al. 2018;
jmschrei/tfmodisco-lite), so that ``modisco report`` and other readers of
modisco results take seqsal's motifs; :func:`export_modisco_arrays` writes the
dense ``(N, 4, L)`` inputs of ``modisco motifs`` (``seqsal export-modisco``).
"""
from __future__ import annotations

import contextlib
import logging
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError, option
from ..io import NpyStream, atomic_path, region_arrays
from ..provenance import read_json_record
from ..runlock import refuse_unfinished_run
from ..tables import read_tsv
from .discover import DiscoveredMotif
from .match import best_matches
from .seqlets import extract_windows
from .support import SUPPORT_COLUMNS

MOTIF_TABLE_COLUMNS = ["motif", "sign", "n_seqlets", "width", "consensus", "contribution", "match_id", "match_name",
                       "match_qvalue", "match_pvalue", "match_strand", "match_offset", *SUPPORT_COLUMNS]
"""Columns of ``motifs.tsv``. ``match_*`` describe the best database match whatever its q-value (as TOMTOM lists
every match), with its q-value next to its name: the match names the motif only when ``match_qvalue`` is below
:data:`MATCH_Q` (:func:`match_label`)."""

MATCH_Q = 0.05
"""Largest q-value of a database match that the report and the logos show as the motif's name (TOMTOM's
``-thresh`` default is 0.5 on q; 0.05 is the usual level for calling a motif known)."""


def match_label(name: object, qvalue: object, q: float = MATCH_Q) -> str:
    """How a motif's best database match is shown: ``"FOS::JUN (q 1.6e-06)"`` when its q-value is below ``q``,
    ``"no database match at q < 0.05 (closest FOXI1, q 0.98)"`` otherwise, ``""`` without a match (``name`` not text)."""
    if not isinstance(name, str) or not name:
        return ""
    value = float(qvalue) if qvalue is not None else float("nan")
    if np.isfinite(value) and value < q:
        return f"{name} (q {value:.2g})"
    return f"no database match at q < {q:g} (closest {name}, q {value:.2g})"


def motif_table(motifs: list[DiscoveredMotif], matches: pd.DataFrame | None = None,
                support: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per motif (``motifs.tsv``), with its best database match and its support test when given.

    Parameters
    ----------
    motifs
        Discovered motifs (:func:`seqsal.motifs.discover.discover_motifs`).
    matches
        Their :func:`seqsal.motifs.match.compare_motifs` table, or None; its ``query`` is the motif's ``name``
        (``pos_1``, as :meth:`seqsal.motifs.DiscoveredMotif.to_motif` names it).
    support
        Their :func:`seqsal.motifs.support.support_table` rows (same order), or None.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`MOTIF_TABLE_COLUMNS`; the ``match_*`` ones (the best match, whatever its q-value) are
        empty without a database, the support
        ones (:data:`~seqsal.motifs.support.SUPPORT_COLUMNS`) without a support test.
    """
    rows = []
    best = best_matches(matches, 1).set_index("query") if matches is not None and len(matches) else None
    for motif in motifs:
        row = {"motif": motif.name, "sign": motif.sign, "n_seqlets": motif.n_seqlets, "width": motif.cwm.shape[1],
               "consensus": motif.consensus, "contribution": round(float(motif.cwm.sum()), 6)}
        if best is not None and motif.name in best.index:  # motif_matches.tsv's query: the motif's name
            hit = best.loc[motif.name]
            row.update(match_id=hit["target_id"], match_name=hit["target_name"], match_strand=hit["strand"],
                       match_offset=int(hit["offset"]), match_pvalue=float(f"{hit['pvalue']:.3g}"),
                       match_qvalue=float(f"{hit['qvalue']:.3g}"))
        rows.append(row)
    if support is not None:
        for row, values in zip(rows, support[SUPPORT_COLUMNS].to_dict("records")):
            row.update(values)
    return pd.DataFrame(rows, columns=MOTIF_TABLE_COLUMNS)


def instance_table(motifs: list[DiscoveredMotif], regions: pd.DataFrame, seqlets: pd.DataFrame) -> pd.DataFrame:
    """Supporting seqlets of every motif, on genome coordinates (``motif_instances.tsv``).

    Each row carries its seqlet's ``score``, ``pvalue`` and ``qvalue`` (from the seqlet table clustered: by
    default the lenient re-call against the run's null) when the table has them, so instances can be filtered by
    significance as well as by ``similarity`` to the motif.

    Parameters
    ----------
    motifs
        Discovered motifs; their ``instances`` index ``seqlets`` by ``seqlet``.
    regions
        The run's ``regions.tsv`` (``index``, ``name``, ``chrom``, ``start``, ...).
    seqlets
        The seqlet table the motifs were discovered from.

    Returns
    -------
    pandas.DataFrame
        ``motif, seqlet, seqlet_name, region_index, region_name, chrom, start, end, strand, similarity, score,
        pvalue, qvalue``; ``start``/``end`` are 0-based, half-open genome coordinates of the trimmed motif;
        ``seqlet`` is the row of ``seqlets`` (0-based) and ``seqlet_name`` its ``name``: ``seqlets.tsv``'s
        name when ``seqlets`` is that table, ``discovery_*`` for seqlets re-called for discovery
        (:func:`seqsal.motifs.run.discovery_seqlets`), never a name of another seqlet.
    """
    frames = []
    for motif in motifs:
        inst = motif.instances
        region = regions.set_index("index").loc[inst["region_index"].to_numpy()]
        support = seqlets.loc[inst["seqlet"].to_numpy()]
        frames.append(pd.DataFrame({
            "motif": motif.name, "seqlet": inst["seqlet"].to_numpy(),
            "seqlet_name": support["name"].to_numpy() if "name" in seqlets else "",
            "region_index": inst["region_index"].to_numpy(), "region_name": region["name"].to_numpy(),
            "chrom": region["chrom"].to_numpy(), "start": region["start"].to_numpy() + inst["start"].to_numpy(),
            "end": region["start"].to_numpy() + inst["end"].to_numpy(),
            "strand": np.where(inst["rc"].to_numpy(), "-", "+"), "similarity": inst["similarity"].to_numpy(),
            **{column: support[column].to_numpy() if column in seqlets else np.nan
               for column in ("score", "pvalue", "qvalue")},
        }))
    columns = ["motif", "seqlet", "seqlet_name", "region_index", "region_name", "chrom", "start", "end", "strand",
               "similarity", "score", "pvalue", "qvalue"]
    return pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)


def write_motif_arrays(path: str | os.PathLike, motifs: list[DiscoveredMotif]) -> None:
    """Write ``motifs.npz`` (atomically): the CWM, hypothetical CWM and PWM of each motif, ``(4, W)`` each.

    Keys are ``<motif>.<matrix>`` (``pos_1.cwm``, ``pos_1.hypothetical_cwm``,
    ``pos_1.pwm``, ...), uncompressed; :func:`read_motif_arrays` reads them back.
    """
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, **{f"{m.name}.{kind}": getattr(m, kind) for m in motifs
                                for kind in ("cwm", "hypothetical_cwm", "pwm")})


def read_motif_arrays(path: str | os.PathLike) -> dict[str, dict[str, np.ndarray]]:
    """``motifs.npz`` -> ``{motif name: {"cwm", "hypothetical_cwm", "pwm"}}``, ``(4, W)`` arrays each.

    Raises
    ------
    InputError
        When the file is missing (run ``seqsal motifs`` first).
    """
    if not os.path.isfile(str(path)):
        raise InputError("motif arrays not found; run `seqsal motifs` first", str(path))
    out: dict[str, dict[str, np.ndarray]] = {}
    with np.load(path) as data:
        for key in data.files:
            name, kind = key.rsplit(".", 1)
            out.setdefault(name, {})[kind] = data[key]
    return out


def write_modisco_h5(path: str | os.PathLike, motifs: list[DiscoveredMotif], one_hot: np.ndarray,
                     hypothetical: np.ndarray, lengths: np.ndarray) -> None:
    """Write motifs in tfmodisco-lite's HDF5 layout (``motifs.h5``), for the tools that read it.

    ``pos_patterns``/``neg_patterns`` hold ``pattern_0, 1, ...`` (seqsal's
    ``pos_1, 2, ...`` / ``neg_1, ...`` in order), each with ``sequence``
    (PWM), ``contrib_scores`` (CWM) and ``hypothetical_contribs`` as ``(W, 4)``
    and ``seqlets/``: ``n_seqlets``, ``example_idx`` (row of ``attributions.npz``
    = ``regions.tsv`` index), ``start``/``end`` (offsets in that row, 0-based
    half-open, + strand), ``is_revcomp`` and the aligned ``sequence``,
    ``contrib_scores`` and ``hypothetical_contribs`` of each instance
    ``(n, W, 4)``. The file's ``window_size`` is the longest row; modisco's
    ``seqlet-bed``/``seqlet-fasta`` assume windows centred on each peak's midpoint: give them the run's
    :data:`MODISCO_PEAKS` (:func:`modisco_peaks`) as ``-p``, or take genome coordinates from
    ``motif_instances.tsv``.

    Parameters
    ----------
    one_hot, hypothetical
        ``(N, 4, L)`` arrays, or the run's :class:`~seqsal.io.RegionArray` (only the instances are read).
    lengths
        ``(N,)`` true length of each row.
    """
    import h5py  # third-party, needed only for motifs.h5

    # every motif's instances cut in one pass, so a stored row is read once (not once per motif holding it): each
    # instance at the widest motif's width, + strand, then cut to its motif's width and flipped where it is rc
    widest = max((motif.pwm.shape[1] for motif in motifs), default=0)
    every = [np.concatenate([motif.instances[column].to_numpy(np.int64) for motif in motifs])
             if motifs else np.zeros(0, np.int64) for column in ("region_index", "start")]
    cut = extract_windows([one_hot, hypothetical], lengths, *every, widest)
    first = np.cumsum([0] + [len(motif.instances) for motif in motifs])
    with h5py.File(str(path), "w") as handle:
        handle.attrs["window_size"] = int(np.max(lengths)) if len(lengths) else 0
        handle.attrs["written_by"] = "seqsal"
        for sign, group_name in (("+", "pos_patterns"), ("-", "neg_patterns")):
            chosen = [k for k, motif in enumerate(motifs) if motif.sign == sign]
            if not chosen:
                continue
            group = handle.create_group(group_name)
            for index, k in enumerate(chosen):
                motif = motifs[k]
                pattern = group.create_group(f"pattern_{index}")
                pattern.attrs["seqsal_name"] = motif.name
                pattern.create_dataset("sequence", data=np.asarray(motif.pwm, np.float32).T)
                pattern.create_dataset("contrib_scores", data=np.asarray(motif.cwm, np.float32).T)
                pattern.create_dataset("hypothetical_contribs", data=np.asarray(motif.hypothetical_cwm, np.float32).T)
                inst = motif.instances
                rows = inst["region_index"].to_numpy(np.int64)
                starts = inst["start"].to_numpy(np.int64)
                rc = inst["rc"].to_numpy(bool)
                pieces = (part[first[k]:first[k + 1], :, :motif.pwm.shape[1]] for part in cut)
                oh, hyp = (np.where(rc[:, None, None], piece[:, ::-1, ::-1], piece) for piece in pieces)
                seqlets = pattern.create_group("seqlets")
                seqlets.create_dataset("n_seqlets", data=np.array([len(inst)]))
                seqlets.create_dataset("example_idx", data=rows)
                seqlets.create_dataset("start", data=starts)
                seqlets.create_dataset("end", data=inst["end"].to_numpy(np.int64))
                seqlets.create_dataset("is_revcomp", data=rc)
                seqlets.create_dataset("sequence", data=oh.transpose(0, 2, 1))
                seqlets.create_dataset("contrib_scores", data=(oh * hyp).transpose(0, 2, 1))
                seqlets.create_dataset("hypothetical_contribs", data=hyp.transpose(0, 2, 1))



MODISCO_PEAKS = "modisco_peaks.bed"
"""The peaks file for tfmodisco-lite's ``seqlet-bed`` / ``seqlet-fasta -p`` that puts its seqlets at their genome
coordinates (:func:`modisco_peaks`), beside ``motifs.h5`` and beside :func:`export_modisco_arrays`' arrays."""


def modisco_peaks(regions: pd.DataFrame, centres: np.ndarray) -> pd.DataFrame:
    """One BED6 row per run row that makes tfmodisco-lite's coordinate tools place its seqlets on the genome.

    tfmodisco-lite's ``seqlet-bed`` and ``seqlet-fasta`` (``modiscolite.io``) put a seqlet at ``(peak_start +
    peak_end) // 2 - window_size // 2 + offset`` of its row's line in the peaks file they are given: they assume
    windows centred on each peak's midpoint. A run's rows are not (a BED region starts its row; ``--width`` centres
    on a narrowPeak summit, not on the peak's midpoint), so the user's own peaks file put 1,258 of 1,260 of them
    100-200 bp off (fresh27a). Each row here is the 1-bp interval at the genome position of the row's base that
    modisco's window centre stands for, so that its arithmetic gives the row's own coordinates (rows are + strand:
    a ``-`` region's row was mapped back). tfmodisco-lite itself adds 1 to each seqlet's start (its own
    convention), so its intervals start one base after seqsal's ``motif_instances.tsv``.

    Parameters
    ----------
    regions
        The run's ``regions.tsv`` (``chrom``, ``start``, ``name``, ``strand``), rows in the order of
        ``attributions.npz``.
    centres
        ``(N,)`` offset from each region's start of the base modisco's centre stands for: ``window_size // 2``
        for ``motifs.h5`` (offsets from the row's start), the row's centre for :func:`export_modisco_arrays`.

    Returns
    -------
    pandas.DataFrame
        ``chrom, start, end, name, score, strand`` (score 0), one row per region, in row order.
    """
    centre = regions["start"].to_numpy(np.int64) + np.asarray(centres, np.int64)
    return pd.DataFrame({"chrom": regions["chrom"].astype(str).to_numpy(), "start": centre, "end": centre + 1,
                         "name": regions["name"].astype(str).to_numpy(), "score": 0,
                         "strand": regions["strand"].astype(str).to_numpy() if "strand" in regions else "."})


def write_modisco_peaks(path: str | os.PathLike, regions: pd.DataFrame, centres: np.ndarray) -> None:
    """:func:`modisco_peaks` written as a headerless BED6 (atomically)."""
    with atomic_path(path) as tmp:
        modisco_peaks(regions, centres).to_csv(tmp, sep="\t", header=False, index=False)


MODISCO_ARRAYS = {"one_hot": "ohe.npy", "hypothetical": "shap.npy"}
"""The dense arrays :func:`export_modisco_arrays` writes: ``attributions.npz`` member -> file name."""


def export_modisco_arrays(run_dir: str | os.PathLike, out_dir: str | os.PathLike, width: int | None = None) -> dict:
    """Write a run folder's arrays as the dense ``(N, 4, width)`` float32 ``.npy`` files tfmodisco-lite reads.

    ``attributions.npz`` is ragged (regions end to end, :func:`seqsal.io.region_arrays`); tfmodisco-lite
    (Shrikumar et al. 2018; jmschrei/tfmodisco-lite) takes one-hot sequences and hypothetical attributions as
    ``(N, 4, L)`` arrays and keeps their central ``--window`` bases:
    ``modisco motifs -s <out>/ohe.npy -a <out>/shap.npy -n 2000 -w <width>``. Row ``i`` holds region ``i``
    centred: a region of ``width`` bases whole, a longer one without its first ``(L_i - width) // 2`` bases
    (and the rest past ``width``), a shorter one after ``(width - L_i) // 2`` zeros (and zeros after it).
    Streamed, in bounded memory; each file written under a temporary name, then renamed. Beside them,
    :data:`MODISCO_PEAKS` (from the run's ``regions.tsv``) is the peaks file that makes modisco's ``seqlet-bed``
    place its seqlets at their genome coordinates (:func:`modisco_peaks`); its ``seqlet-fasta`` reads the bases from
    the uncropped rows at the cropped window's offsets, so it is right only where ``width`` equals its ``-w``.

    Parameters
    ----------
    run_dir
        A run folder of ``seqsal attribute`` or ``seqsal merge`` (either array layout).
    out_dir
        Folder for ``ohe.npy`` and ``shap.npy`` (:data:`MODISCO_ARRAYS`; created when missing).
    width
        Row width in bases; default the longest region.

    Returns
    -------
    dict
        ``files`` (paths written: the two arrays, and the peaks file when the run has a ``regions.tsv``),
        ``n_regions`` and ``width``.

    Raises
    ------
    InputError
        When the run folder has no ``attributions.npz``, its run has not finished
        (:func:`seqsal.runlock.refuse_unfinished_run`), ``width`` is below 1, ``out_dir`` cannot be made, or
        the two arrays would not fit in its file system's free space.
    """
    refuse_unfinished_run(run_dir)
    if Path(run_dir).resolve() in (Path(out_dir).resolve(), *Path(out_dir).resolve().parents):
        logging.getLogger("seqsal").warning(
            "writing %s inside the run folder: seqsal does not track these arrays, so a later `seqsal attribute "
            "--force` there leaves them describing this run; give -o outside the run folder", out_dir)
    method = (read_json_record(Path(run_dir) / "run.json").get("method") if (Path(run_dir) / "run.json").is_file()
              else None)
    if method == "gradcam":  # fresh25b: exported as hypothetical contributions without a word
        logging.getLogger("seqsal").warning(
            "this run's method is gradcam, whose arrays are not hypothetical contributions (one value per position, "
            "the same for A/C/G/T); tfmodisco-lite reads them as such: export a run of grad_x_input, saliency, "
            "deepshap, ig or ism")
    arrays = region_arrays(os.path.join(str(run_dir), "attributions.npz"), list(MODISCO_ARRAYS))
    width = arrays.max_length if width is None else int(width)
    if width < 1:
        raise InputError(f"{option('width')} must be at least 1 base, got {width}")
    made = not os.path.exists(out_dir)
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as exc:  # under a file, or where no folder can be made (auditbreak: a traceback)
        raise InputError(f"cannot make this folder ({exc.strerror}); give a folder path that can be created",
                         str(out_dir)) from None
    need, free = 2 * len(arrays) * 4 * width * 4, shutil.disk_usage(out_dir).free  # two float32 (N, 4, width)
    if need > free:  # auditbreak: --width 2000000 wrote 22 GB without a word
        if made:
            os.rmdir(out_dir)
        raise InputError(f"ohe.npy and shap.npy of {len(arrays)} rows x {width} bp need {need / 1e9:.3g} GB, the "
                         f"file system has {free / 1e9:.3g} GB free; give a smaller {option('width')} (the longest "
                         f"region: {arrays.max_length}) or another -o", str(out_dir))
    paths = {key: os.path.join(str(out_dir), name) for key, name in MODISCO_ARRAYS.items()}
    with contextlib.ExitStack() as stack:
        streams = {}
        for key, path in paths.items():
            tmp = stack.enter_context(atomic_path(path))
            streams[key] = stack.enter_context(contextlib.closing(NpyStream(tmp, (len(arrays), 4, width))))
        for rows, block in arrays.blocks(list(MODISCO_ARRAYS)):
            lengths = arrays.lengths[rows]
            starts = np.where(lengths >= width, (lengths - width) // 2, -((width - lengths) // 2))
            for key, stream in streams.items():
                for k, row in enumerate(rows):
                    start = int(starts[k])
                    lo, hi = max(start, 0), min(start + width, int(arrays.lengths[row]))
                    centred = np.zeros((4, width), np.float32)
                    if hi > lo:
                        centred[:, lo - start:hi - start] = block[key][k, :, lo:hi]
                    stream.write_row(int(row), centred)
    files = list(paths.values())
    table = os.path.join(str(run_dir), "regions.tsv")
    if os.path.isfile(table):  # fresh27a: the user's own peaks file put modisco's seqlets 100-200 bp off
        lengths = arrays.lengths.astype(np.int64)
        starts = np.where(lengths >= width, (lengths - width) // 2, -((width - lengths) // 2))
        files.append(os.path.join(str(out_dir), MODISCO_PEAKS))
        write_modisco_peaks(files[-1], read_tsv(table), starts + width // 2)
    return {"files": files, "n_regions": len(arrays), "width": width}
