"""Does the model confirm each called seqlet? An in-silico replacement test, with no attribution method in between.

A seqlet claims that its bases raise (``+``) or lower (``-``) the model's output. The model can be asked directly:
replace the seqlet's bases by random bases and see whether the prediction moves the way the sign says, further
than the same replacement of a stretch of the same length that no call covers.

For each checked seqlet (the most significant ``max_seqlets``, duplicates of an overlapping region's call left
out):

* the model window of its region that holds it with the most context (the run's own windows: widened, tiled and
  read on the strand the run read them; :func:`seqsal.run_windows.run_windows`);
* ``change``: the mean over ``draws`` copies of ``f(copy) - f(x)``, each copy with the seqlet's bases replaced by
  uniform random bases (the run's target; averaged over both strands for ``--rc`` runs);
* ``effect = -sign x change``: positive when removing the bases moves the output the way the seqlet's sign says;
* controls: stretches of the seqlets' lengths (one per seqlet, and at least :data:`MIN_CONTROLS`, the lengths
  taken in turn, so that a run with few calls can still reach ``alpha``: with one control per seqlet, 10 seqlets
  had a smallest p-value of 1/11 and none could be confirmed at 0.05), each at a random place in a random checked
  window, overlapping no seqlet called at a lenient FDR (0.5: the stretches the attributions do not single out),
  replaced the same way;
* ``pvalue = (1 + #{controls: -sign x change >= effect}) / (n_controls + 1)``: the effect against the controls'
  change in the same direction (a ``-`` seqlet's rise against the controls' rises; a control that hits an
  uncalled site of that sign makes the test conservative); ``confirmed`` where ``pvalue <= alpha``.

The replacement test is in-silico mutagenesis (Zhou & Troyanskaya, Nat. Methods 2015; Alipanahi et al., Nat.
Biotechnol. 2015) applied to a called stretch at once, as tangermeme's ``ablate`` does for a motif. A ``-`` seqlet
whose replacement lowers the output is a sign the attribution method cannot be trusted there (benchmarks/RESULTS.md,
issue 13: on a Basset-like model most ``-`` seqlets that overlap no planted site are of that kind, while on other
models the calls outside planted sites are used by the model as their sign says).
"""
from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from .attribution import Target
from .errors import InputError, option
from .devices import device_for, placed, precision_context
from .engine import is_out_of_memory
from .evaluate import predict_target
from .run_windows import run_device, run_inputs
from .io import write_table_atomic
from .tables import read_region_coordinates
from .peaks import call_peaks_from_run
from .provenance import read_json_record, record_written, remove_group, stale_text, status
from .runlock import locks_run_folder
from .text import plural

log = logging.getLogger("seqsal")

MIN_CONTROLS = 99  # fewest control stretches: the smallest p-value 1 / (n + 1) is then 0.01
UNCONFIRMED_SHARE = 0.5  # a sign whose checked seqlets the model confirms less often than this is flagged
MIN_CHECKED = 10  # fewest checked seqlets of a sign for a verdict on it
AUTO_CHECK = 200  # seqlets checked at the end of `attribute` and `call-peaks` (--signs auto)
LENIENT_FDR = 0.5  # the controls avoid the seqlets called at this FDR (and the checked ones)
COLUMNS = ["name", "sign", "score", "qvalue", "change", "effect", "pvalue", "confirmed"]


def replacement_changes(model: nn.Module, x: np.ndarray, spans: np.ndarray, target: Target, draws: int = 8,
                        seed: int = 0, rc: bool = False, batch_size: int = 256) -> np.ndarray:
    """Mean change of the target when a stretch of a window is replaced by uniform random bases.

    Parameters
    ----------
    model, target
        The model and the output it is explained for.
    x
        ``(W, 4, L)`` one-hot windows.
    spans
        ``(K, 3)`` int: window index and ``[start, end)`` in window coordinates (0-based, half-open).
    draws
        Random replacements per stretch (the change is their mean).
    seed, rc, batch_size
        Random seed of the bases; average over both strands (an ``--rc`` run's target); windows per forward pass.

    Returns
    -------
    np.ndarray
        ``(K,)`` float64: mean ``f(replaced) - f(window)`` per stretch.
    """
    spans = np.asarray(spans, dtype=np.int64).reshape(-1, 3)
    if spans.shape[0] == 0:
        return np.zeros(0)
    rng = np.random.default_rng(seed)
    used, window_of = np.unique(spans[:, 0], return_inverse=True)  # only the windows a stretch lies in
    base = predict_target(model, torch.from_numpy(np.ascontiguousarray(x[used])), target, batch_size,
                          rc).astype(np.float64)[window_of]
    changes = np.zeros(spans.shape[0])
    per_pass = max(1, batch_size // draws)
    eye = np.eye(4, dtype=np.float32)
    for first in range(0, spans.shape[0], per_pass):
        block = spans[first:first + per_pass]
        copies = np.repeat(x[block[:, 0]], draws, axis=0)
        for k, (_, a, b) in enumerate(block):
            bases = rng.integers(0, 4, (draws, b - a))
            copies[k * draws:(k + 1) * draws, :, a:b] = eye[bases].transpose(0, 2, 1)
        values = predict_target(model, torch.from_numpy(copies), target, batch_size, rc).astype(np.float64)
        values = values.reshape(len(block), draws)
        changes[first:first + len(block)] = values.mean(axis=1) - base[first:first + len(block)]
    return changes


def window_spans(seqlets: pd.DataFrame, windows: pd.DataFrame) -> np.ndarray:
    """For each seqlet (``region_index``, genomic ``start``, ``end``), the window of its region that holds it with
    the most context, as ``(window index, start, end)`` in that window's coordinates (read on the window's
    strand); ``-1`` in every column where no window holds it whole. Regions are told apart by their row, not
    their name (fresh26b: two peak files' ``Peak_1`` had their seqlets tested in each other's windows)."""
    out = np.full((len(seqlets), 3), -1, dtype=np.int64)
    by_row = {int(row): frame for row, frame in windows.reset_index(drop=True).groupby("region_index", sort=False)}
    for k, (row, start, end) in enumerate(zip(seqlets["region_index"], seqlets["start"], seqlets["end"])):
        frame = by_row.get(int(row))
        if frame is None:
            continue
        room = np.minimum(start - frame["start"].to_numpy(), frame["end"].to_numpy() - end)
        if room.max() < 0:
            continue
        best = int(np.argmax(room))
        row = frame.iloc[best]
        a = int(row["end"] - end) if row["strand"] == "-" else int(start - row["start"])
        out[k] = (frame.index[best], a, a + int(end - start))
    return out


def control_spans(spans: np.ndarray, lengths: np.ndarray, windows: pd.DataFrame, called: np.ndarray,
                  rng: np.random.Generator, tries: int = 50) -> np.ndarray:
    """One control stretch per length: a random place in a random window among ``spans``' windows, overlapping no
    stretch in ``called`` (``(M, 3)`` window-coordinate spans of every called seqlet); fewer when none fits."""
    used = np.unique(spans[:, 0])
    width = (windows["end"] - windows["start"]).to_numpy()
    out = []
    for length in lengths:
        for _ in range(tries):
            w = int(rng.choice(used))
            if width[w] <= length:
                continue
            a = int(rng.integers(0, width[w] - length + 1))
            mine = called[called[:, 0] == w]
            if not ((mine[:, 1] < a + length) & (mine[:, 2] > a)).any():
                out.append((w, a, a + int(length)))
                break
    return np.asarray(out, dtype=np.int64).reshape(-1, 3)


def _most_significant(seqlets: pd.DataFrame) -> np.ndarray:
    """Row positions of ``seqlets`` by increasing q-value (ties: larger ``|score|`` first)."""
    return np.lexsort((-seqlets["score"].abs().to_numpy(), seqlets["qvalue"].to_numpy()))


def sign_text(signs: pd.Series) -> np.ndarray:
    """``+``/``-`` of each sign, given as text or as a number (``1``/``-1``, as the API's calls carry it)."""
    return np.array([v if isinstance(v, str) else "+" if v > 0 else "-" for v in signs], dtype=object)


def chosen_rows(seqlets: pd.DataFrame, held: np.ndarray, max_seqlets: int | None) -> np.ndarray:
    """Row positions of the seqlets to check, most significant first: of those ``held`` whole by a model window,
    the ``max_seqlets`` most significant with a share for each sign: each sign's ``max_seqlets // 2`` most
    significant (all of a sign that has fewer), then the most significant of the rest, of either sign, up to
    ``max_seqlets``; every held seqlet for ``None``.

    Each sign's verdict (:func:`unconfirmed_signs`) rests on its own checked seqlets: ranked over both signs, the
    200 most significant of a run with 692 + and 83 - seqlets held no - seqlet, and a - sign the model
    contradicted (basset_B of the calibration zoo: 5 of its 40 confirmed) got no verdict at the default.
    """
    order = np.array([i for i in _most_significant(seqlets) if held[i]], dtype=np.int64)
    if max_seqlets is None or order.size <= max_seqlets:
        return order
    minus = sign_text(seqlets["sign"])[order] == "-"
    keep = np.zeros(order.size, dtype=bool)
    for mine in (minus, ~minus):
        keep[np.flatnonzero(mine)[:max_seqlets // 2]] = True
    keep[np.flatnonzero(~keep)[:max_seqlets - int(keep.sum())]] = True  # the rest by significance (review31: an
    return order[keep]  # odd slot went to + whatever its q-value; --max-seqlets 1 never took a - seqlet)


def _check_parameters(max_seqlets, draws, alpha) -> None:
    """Refuse what the CLI's option types refuse (fresh30b: the API's ``alpha=2`` confirmed every seqlet, ``draws=0``
    divided by zero)."""
    def whole(value, least: int) -> bool:
        return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= least

    if not (max_seqlets is None or whole(max_seqlets, 0)) or not whole(draws, 1):  # None: every seqlet
        raise InputError(f"{option('max_seqlets')} must be a whole number >= 0 and {option('draws')} one >= 1, got "
                         f"{max_seqlets!r} and {draws!r}")
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.integer, np.floating)) or not 0 < alpha <= 1:
        raise InputError(f"{option('alpha')} is the level of `confirmed`, in (0, 1] (e.g. 0.05), got {alpha!r}")


def check_seqlets(model: nn.Module, x: np.ndarray, windows: pd.DataFrame, seqlets: pd.DataFrame, target: Target,
                  max_seqlets: int = 200, draws: int = 8, alpha: float = 0.05, seed: int = 0, rc: bool = False,
                  avoid: pd.DataFrame | None = None) -> pd.DataFrame:
    """The replacement test of the called seqlets (module docstring).

    In-silico mutagenesis of a whole called stretch at once (Zhou & Troyanskaya 2015; Alipanahi et al. 2015), as
    tangermeme's ``ablate`` does for a motif, with an empirical p-value against control stretches no call covers.

    Parameters
    ----------
    model
        The run's model (a :class:`torch.nn.Module` taking ``(W, 4, L)``).
    x, windows
        ``(W, 4, L)`` one-hot model windows and their table (``name``, ``chrom``, ``start``, ``end``,
        ``strand``; genome coordinates, 0-based half-open), as :func:`seqsal.run_windows.run_windows` gives them.
    seqlets
        ``seqlets.tsv`` rows (``name``, ``region_name``, genomic ``start``, ``end`` (0-based, half-open), ``sign``
        ``+``/``-``, ``score``, ``qvalue``).
    target
        The run's target (:class:`~seqsal.Target`).
    max_seqlets
        Check this many with the smallest q-value (ties: larger ``|score|``), each sign at least half of them
        where it has that many (:func:`chosen_rows`); ``None``: every seqlet.
    draws, alpha, seed, rc
        Replacements per stretch, the level of ``confirmed``, the random seed, and ``--rc`` runs' strand average.
    avoid
        Calls (same columns) the controls must not overlap, besides ``seqlets``: e.g. the calls of a lenient FDR,
        so that the controls are stretches the model is not thought to use (an uncalled site among the controls
        makes the test conservative).

    Returns
    -------
    pandas.DataFrame
        One row per checked seqlet: :data:`COLUMNS` (``change`` in the target's units); empty when ``seqlets`` is.
        Seqlets that lie whole in no model window are not checked (one log line). ``attrs["n_controls"]``: the
        number of control stretches.

    Raises
    ------
    InputError
        When ``max_seqlets`` (>= 0) or ``draws`` (>= 1) is not a whole number or ``alpha`` is outside (0, 1].
    """
    _check_parameters(max_seqlets, draws, alpha)
    if seqlets.empty:
        return pd.DataFrame(columns=COLUMNS)
    spans = window_spans(seqlets, windows)
    held = spans[:, 0] >= 0
    if not held.all():
        log.info("check: %s lie in no model window whole (regions cut by the window); not checked",
                 plural(int((~held).sum()), "seqlet"))
    chosen = chosen_rows(seqlets, held, max_seqlets)
    if chosen.size == 0:  # docs23: none whole in a window was an IndexError (a modulo by 0 below)
        return pd.DataFrame(columns=COLUMNS)
    checked = seqlets.iloc[chosen]
    sign = np.where(sign_text(checked["sign"]) == "+", 1, -1)  # review31: a numeric 1 was read as -
    change = replacement_changes(model, x, spans[chosen], target, draws, seed, rc)
    rng = np.random.default_rng(seed + 1)
    lengths = spans[chosen, 2] - spans[chosen, 1]
    lengths = lengths[np.arange(max(lengths.shape[0], MIN_CONTROLS)) % lengths.shape[0]]  # each seqlet's in turn
    taken = spans[held] if avoid is None else np.concatenate([spans[held], window_spans(avoid, windows)])
    controls = control_spans(spans[chosen], lengths, windows, taken[taken[:, 0] >= 0], rng)
    control = replacement_changes(model, x, controls, target, draws, seed + 2, rc)
    effect = -sign * change
    pvalue = np.ones(effect.shape[0])
    for s in (1, -1):  # each sign against the controls' change in its own direction
        null = np.sort(-s * control)
        exceed = null.shape[0] - np.searchsorted(null, effect[sign == s], side="left")
        pvalue[sign == s] = (1.0 + exceed) / (null.shape[0] + 1.0)
    table = pd.DataFrame({"name": checked["name"].to_numpy(), "sign": np.where(sign > 0, "+", "-"),
                          "score": checked["score"].to_numpy(), "qvalue": checked["qvalue"].to_numpy(),
                          "change": change, "effect": effect, "pvalue": pvalue, "confirmed": pvalue <= alpha})
    table.attrs["n_controls"] = int(control.shape[0])
    return table


@locks_run_folder("check_seqlets", when=lambda arguments: arguments["write"])
def check_seqlets_run(out_dir: str | Path, max_seqlets: int = 200, draws: int = 8, alpha: float = 0.05,
                      seed: int | None = None, seqlets: pd.DataFrame | None = None, write: bool = True,
                      warn: bool = True, device: str | None = None) -> pd.DataFrame:
    """:func:`check_seqlets` on a run folder's ``seqlets.tsv``; writes ``seqlet_check.tsv`` there (``seqsal
    check-seqlets``).

    The model, target, windows and ``--rc`` are the run's (``run.json``), as ``seqsal evaluate`` reads them; only
    the regions that hold a checked seqlet are read.

    Parameters
    ----------
    out_dir
        A ``seqsal attribute`` folder with called seqlets.
    max_seqlets, draws, alpha
        See :func:`check_seqlets`.
    seed
        Random seed of the replacements and controls (``None``: the run's).
    seqlets
        Check these calls (a :class:`~seqsal.peaks.PeakCalls` ``seqlets`` table of this folder, e.g. re-called at
        another FDR) instead of the folder's ``seqlets.tsv``.
    write
        Write ``seqlet_check.tsv`` (and its provenance); only with the folder's own ``seqlets.tsv``.
    warn
        Warn of a sign the model does not confirm (:func:`withhold_unconfirmed` says instead what it did).
    device
        Where the model's forward passes run: ``cpu``, ``cuda``, ... (:func:`seqsal.devices.select_device`);
        ``None``: the run's device (``run.json``) where this machine has it, else the best available.

    Returns
    -------
    pandas.DataFrame
        The table written (:data:`COLUMNS`).

    Raises
    ------
    InputError
        When ``max_seqlets`` (>= 0) or ``draws`` (>= 1) is not a whole number or ``alpha`` is outside (0, 1], the
        folder has no ``seqlets.tsv`` (run ``seqsal attribute`` or ``seqsal call-peaks`` first), its ``qvalue``
        column is missing or not numeric, or
        given ``seqlets`` name other regions than the folder's (:func:`seqsal.motifs.seqlets.seqlet_region_mismatch`);
        for the run's inputs as :func:`seqsal.evaluate_run` (no ``run.json``, a model or genome that moved or
        changed); with ``write``, when the run has not finished or another seqsal process holds the folder's lock.
    ValueError
        Given ``seqlets`` with ``write=True``.
    """
    out = Path(out_dir)
    _check_parameters(max_seqlets, draws, alpha)
    if seqlets is None:
        path = out / "seqlets.tsv"
        if not path.exists():
            raise InputError("no seqlets.tsv: call seqlets first (`seqsal call-peaks` on this folder)", str(out))
        from .motifs.seqlets import read_seqlet_table  # its rows checked, one line on a bad one (auditbreak)

        seqlets = read_seqlet_table(path, read_region_coordinates(out / "regions.tsv"))
        qvalues = pd.to_numeric(seqlets["qvalue"], errors="coerce") if "qvalue" in seqlets else None
        if qvalues is None or qvalues.isna().any():  # the ranking's key (the reader has checked the scores)
            raise InputError("column qvalue is missing or not a number in every row; re-call the seqlets with "
                             "`seqsal call-peaks` on this folder", str(path))
        seqlets["qvalue"] = qvalues
        if status(out, "calls") == "stale":  # fresh26b: a killed call-peaks left calls of two settings side by side
            raise InputError(stale_text(out, "calls"), str(path))
    elif write:
        raise ValueError("check_seqlets_run: given seqlets are not the folder's seqlets.tsv; pass write=False")
    elif "region_index" not in seqlets:  # the row tells regions apart (names may repeat)
        raise InputError("the given seqlets have no region_index column (the row of regions.tsv each lies in); "
                         "pass a seqlets table of this folder's calls (seqsal.call_peaks_from_run)", str(out))
    else:  # they must name this folder's regions as its own calls do
        from .motifs.seqlets import OTHER_RUN_ADVICE, seqlet_region_mismatch

        wrong = seqlet_region_mismatch(seqlets, read_region_coordinates(out / "regions.tsv"))
        if wrong is not None:
            raise InputError(f"seqlets row {wrong[0]}: {wrong[1]}; {OTHER_RUN_ADVICE}", str(out))
    if "duplicate_of" in seqlets:
        seqlets = seqlets[seqlets["duplicate_of"].fillna("").astype(str) == ""]
    seqlets = seqlets.assign(sign=sign_text(seqlets["sign"]))
    # the regions to read: up to max_seqlets of each sign, so that check_seqlets, which leaves out the seqlets no
    # window holds whole, still finds each sign's share among them (review31: a one-stage cut to max_seqlets lost it)
    seqlets = seqlets.iloc[chosen_rows(seqlets, np.ones(len(seqlets), dtype=bool),
                                       None if max_seqlets is None else 2 * max_seqlets)]
    if seqlets.empty:  # fresh31: the controls' lenient calls then warned of an FDR the user never asked
        read_json_record(out / "run.json")  # a damaged run record is refused all the same
        table = pd.DataFrame(columns=COLUMNS)
    else:
        record, model, x, windows, target, seed = run_inputs(out, None, seed, rows=set(seqlets["region_index"]))
        rc = bool(record["parameters"].get("rc"))
        lenient = call_peaks_from_run(out, fdr=max(LENIENT_FDR, float(record.get("peaks", {}).get("fdr", 0.0))),
                                      write=False, elements=False, bh_family="joint").seqlets
        # controls avoid every candidate site: one family over both signs, the more of them (review29b: 659
        # against the sign families' 610 on the demo at 0.5), and no "no + seqlet passed" line from this call
        where = device_for(run_device(record, device), model)
        # float32 as the run's maps (review32b: TF32 on a GPU made the verdicts depend on the machine)
        with placed(model, where), precision_context(where, None):
            table = check_seqlets(model, x.numpy(), windows, seqlets, target, max_seqlets, draws, alpha, seed, rc,
                                  avoid=lenient[lenient["region_index"].isin(set(windows["region_index"]))])
    if write:
        withheld = _withheld_rows(out)  # review32b: a new check of a withheld folder dropped the evidence
        remove_group(out, "seqlet_check")
        write_table_atomic(out / "seqlet_check.tsv", pd.concat([table, withheld]) if len(withheld) else table)
        record_written(out, "seqlet_check", extra=verdict_basis(table, alpha))
    for label in ("+", "-"):
        part = table[table["sign"] == label]
        if len(part):
            log.info("check: %s seqlets: the model confirms %d of %d (replacement moves the output as the sign says, "
                     "p <= %g against stretches no call covers)", label, int(part["confirmed"].sum()), len(part),
                     alpha)
    if table.empty:
        log.info("check: no seqlet checked (%s): an empty table", "max_seqlets=0" if max_seqlets == 0 else
                 "seqlets.tsv holds no call")
    controls = int(table.attrs.get("n_controls", 0))
    if len(table) and not testable(table, alpha):
        log.warning("check: only %s fit in the checked windows beside the calls, so no p-value can reach %g and "
                    "no seqlet can be confirmed: this says nothing against the calls; check more regions (larger "
                    "model windows or more calls, --max-seqlets) or a larger --alpha", plural(controls,
                    "control stretch", "control stretches"), alpha)
    if warn:
        _warn_unconfirmed(unconfirmed_signs(table, alpha=alpha), out)
    return table


def _withheld_rows(out: Path) -> pd.DataFrame:
    """The rows of ``seqlet_check.tsv`` that checked a sign the calls now leave out (``withheld_<name>``), while
    ``run.json`` says a sign is withheld: the check that withheld it, kept when the called sign is checked again."""
    path = out / "seqlet_check.tsv"
    if not path.exists() or not (read_json_record(out / "run.json").get("peaks") or {}).get("withheld"):
        return pd.DataFrame(columns=COLUMNS)
    earlier = pd.read_csv(path, sep="\t", keep_default_na=False)
    return earlier[earlier["name"].astype(str).str.startswith("withheld_")]


def _seqlet_keys(out: Path) -> dict:
    """``seqlets.tsv``'s name -> (row, offset_start, offset_end, sign) of each seqlet."""
    table = pd.read_csv(out / "seqlets.tsv", sep="\t", keep_default_na=False,
                        usecols=["name", "region_index", "offset_start", "offset_end", "sign"])
    return dict(zip(table["name"], zip(table["region_index"], table["offset_start"], table["offset_end"],
                                       table["sign"].astype(str))))


def _warn_unconfirmed(signs: list[str], out: Path) -> None:
    if len(signs) == 2:  # fresh31b: a line per sign told to call each sign alone, each the other's untrusted one
        log.warning("check: the model confirms neither sign's seqlets: for this model the attribution map does not "
                    "say what its bases do; do not act on the calls of %s, or explain the model with another method "
                    "(`seqsal evaluate` compares them) and check again", out)
        return
    for label in signs:
        log.warning("check: the model does not confirm most %s seqlets: for this model the attribution's %s sign does "
                    "not say what its bases do; do not act on those calls (`seqsal call-peaks %s --signs %s` calls "
                    "the other sign alone), or explain the model with another method (`seqsal evaluate` compares "
                    "them) and check again", label, label, out, "+" if label == "-" else "-")


def verdict_basis(table: pd.DataFrame, alpha: float) -> dict:
    """What a verdict on ``seqlet_check.tsv`` needs besides the table, kept in its provenance record for the report
    (fresh31b: the report, without them, flagged both signs of a check whose controls could not reach alpha)."""
    return {"alpha": float(alpha), "n_controls": int(table.attrs.get("n_controls", 0))}


def testable(table: pd.DataFrame, alpha: float) -> bool:
    """Whether a :func:`check_seqlets` table's controls (``attrs["n_controls"]``) let a p-value reach ``alpha``."""
    return 1.0 / (int(table.attrs.get("n_controls", 0)) + 1) <= alpha


def unconfirmed_signs(table: pd.DataFrame, share: float = UNCONFIRMED_SHARE, min_checked: int = MIN_CHECKED,
                      alpha: float | None = None) -> list[str]:
    """The signs (``+``, ``-``) of a :func:`check_seqlets` table whose checked seqlets (at least ``min_checked``)
    the model confirms less than ``share`` of the time: the attribution map's claims of that sign do not hold.
    None when ``alpha`` is given and the controls cannot reach it (:func:`testable`): no verdict then."""
    if alpha is not None and not testable(table, alpha):
        return []
    out = []
    for label in ("+", "-"):
        part = table[table["sign"] == label]
        if len(part) >= min_checked and float(part["confirmed"].mean()) < share:
            out.append(label)
    return out


@locks_run_folder("call_peaks")  # it rewrites the calls (review31b: the API's writes ran unlocked)
def withhold_unconfirmed(out_dir: str | Path, max_seqlets: int = AUTO_CHECK, draws: int = 8,
                         alpha: float = 0.05, device: str | None = None) -> dict:
    """Check a run folder's seqlets against the model and stop calling a sign it contradicts.

    :func:`check_seqlets_run` (writes ``seqlet_check.tsv``); when the model confirms fewer than half of exactly
    one sign's checked seqlets (:func:`unconfirmed_signs`, at least 10 checked and controls that can reach
    ``alpha``), the calls are made again with the other sign alone (:class:`~seqsal.peaks.PeakOptions`
    ``signs``: the kept sign's seqlets and elements are those it had, each sign its own family) and ``run.json``'s
    ``peaks.withheld`` says which sign and why. On the calibration zoo the sign the check flags is, on every
    model measured, the one whose seqlets miss the planted truth (benchmarks/RESULTS.md, session 31): a sign the
    model contradicts is not called rather than called wrong.

    Nothing is checked when the calls were made for one sign already, when no sign has 10 seqlets (no verdict is
    possible), or when the folder holds no calls. Both signs flagged: both are kept, with the check's warnings.

    Parameters
    ----------
    out_dir
        A run folder with calls (``seqsal attribute`` or ``seqsal call-peaks``; not a shard's).
    max_seqlets, draws, alpha, device
        As :func:`check_seqlets_run`.

    Returns
    -------
    dict
        ``peaks.withheld``: per withheld sign, ``checked`` and ``confirmed``; empty when nothing was withheld.

    Raises
    ------
    InputError
        When ``run.json`` cannot be read. A check that cannot run (the model or genome moved or changed) is
        a warning instead: both signs stay called.
    """
    from .peaks import PeakOptions

    out = Path(out_dir)
    peaks = read_json_record(out / "run.json").get("peaks") or {}
    options = dict(peaks.get("options") or {})
    by_sign = peaks.get("n_seqlets_by_sign") or {}
    if not options or options.get("signs", "+-") != "+-" or max(by_sign.values(), default=0) < MIN_CHECKED:
        return {}
    started = time.perf_counter()
    try:
        table = check_seqlets_run(out, max_seqlets=max_seqlets, draws=draws, alpha=alpha, warn=False, device=device)
    except InputError as error:  # the calls stand; what the model would say is unknown (a model file gone, ...)
        log.warning("the calls were not checked against the model, so both signs are called: %s", error)
        return {}
    except RuntimeError as error:  # review32b: out of GPU memory after the run had finished: exit 1, a traceback
        if not is_out_of_memory(error):
            raise
        log.warning("the calls were not checked against the model, so both signs are called: the check ran out of "
                    "memory (%s); `seqsal check-seqlets %s --device cpu` checks them", str(error).splitlines()[0][:120],
                    out)
        return {}
    flagged = unconfirmed_signs(table, alpha=alpha)
    if len(flagged) != 1:
        if flagged:  # both: kept, with the check's word on each
            _warn_unconfirmed(flagged, out)
        return {}
    sign, keep = flagged[0], "+" if flagged[0] == "-" else "-"
    part = table[table["sign"] == sign]
    withheld = {sign: {"checked": int(len(part)), "confirmed": int(part["confirmed"].sum())}}
    before = _seqlet_keys(out)
    remove_group(out, "seqlet_check")  # the calls change under it: written again after them, as their check
    options["test_widths"] = tuple(options["test_widths"])
    # what the re-call cannot know stays: the null asked for and the times, the check's added (session 32)
    carried = {key: peaks[key] for key in ("requested_null", "timing_seconds", "signs_asked") if key in peaks}
    carried["timing_seconds"] = {**carried.get("timing_seconds", {}), "check": round(time.perf_counter() - started, 3)}
    call_peaks_from_run(out, PeakOptions(**{**options, "signs": keep}), note={"withheld": withheld, **carried})
    # review31b: the re-call numbers the kept sign's seqlets again; the check names them as seqlets.tsv now does,
    # and the withheld sign's (in seqlets.tsv no more) by their former names, marked
    now = {key: name for name, key in _seqlet_keys(out).items()}
    table = table.assign(name=[now.get(before.get(name), f"withheld_{name}") if label == keep else f"withheld_{name}"
                               for name, label in zip(table["name"], table["sign"])])
    write_table_atomic(out / "seqlet_check.tsv", table)
    record_written(out, "seqlet_check", extra=verdict_basis(table, alpha))
    log.warning("%s seqlets and elements are not called: the model confirms %d of the %d checked (seqlet_check.tsv); "
                "`seqsal call-peaks %s --signs +-` calls both signs anyway", sign, withheld[sign]["confirmed"],
                withheld[sign]["checked"], out)
    return withheld
