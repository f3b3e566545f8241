"""Checks 1-2 of ``seqsal audit``: positional bias of the attribution and of discovered motifs, and motifs with a
large share of the contribution that match no database motif (:mod:`seqsal.audit` runs them; the statistics are
in :mod:`seqsal.audit_checks`)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from . import audit_checks as ac
from .audit_figure import histogram_png
from .audit_inputs import AUDIT_FOLDER, AuditOptions, AuditRun, grade, row


def check_positional_mass(run: AuditRun, options: AuditOptions, rng: np.random.Generator, folder: Path | None) -> dict:
    """Check 1a: |contribution| per offset against the local-shift null (:func:`audit_checks.positional_concentration`)."""
    mass = run.mass
    result = ac.positional_concentration(mass, run.lengths, rng, options.bin_bp, options.jitter,
                                         max_rows=options.position_rows)
    verdict = grade(result["enrichment"], result["pvalue"], options.position_look, options.position_shortcut,
                    options.alpha)
    start, end = ac.peak_span(mass, run.lengths, result["bin"], options.bin_bp)
    long_enough = np.flatnonzero(run.lengths >= end)  # the rows modal_sequence counts
    word, count, rows = ac.modal_sequence(run.sequences_of(long_enough, start, end), 0, end - start)
    centre = np.median(run.lengths) / 2
    evidence = f"peak at offsets {start}-{end} (bin {result['bin']}-{result['bin'] + options.bin_bp})"
    if verdict != "ok":
        evidence += f"; commonest sequence there {word or '-'} in {count} of {rows} regions"
        repeated = len(word) >= 6 and count >= max(5, 0.05 * rows)  # a 1-2 bp word recurs by chance
        if abs((start + end) / 2 - centre) <= 25 and not repeated:
            verdict = "look"  # summit-centred regions put real motifs at the centre; no repeated sequence there
            evidence += "; at the region centre with no repeated sequence (summit-centred regions do this)"
    if folder is not None:
        histogram_png(folder / "positional_mass.png", result["profile"], result["null_mean"], options.bin_bp,
                       "|contribution| per offset", result["bin"] if verdict != "ok" else None)
        evidence += f"; {AUDIT_FOLDER}/positional_mass.png"
    return row("positional_mass", "max bin / local-shift null mean", f"{99} local shifts of <= {options.jitter} bp",
               result["enrichment"], result["pvalue"], verdict, evidence)


def check_motif_positions(run: AuditRun, options: AuditOptions, rng: np.random.Generator,
                          motifs: pd.DataFrame | None, instances: pd.DataFrame | None) -> list[dict]:
    """Check 1b: each motif's instance offsets against local jitter (:func:`audit_checks.offset_clustering`)."""
    if motifs is None or instances is None:
        return [row("motif_position", "largest share of a motif's instances within 5 bp", "-", np.nan, np.nan, "n/a",
                    "no motifs.tsv / motif_instances.tsv: run `seqsal motifs` first")]
    counts = instances["motif"].value_counts()  # a motif of fewer than 10 instances is not tested, nor counted in
    rows, tested = [], motifs[motifs["motif"].map(counts).fillna(0) >= 10]  # the Bonferroni (fresh24b: 5 vs 6)
    for motif in tested.itertuples(index=False):
        mine = instances[instances["motif"] == motif.motif]
        draws = max(199, int(np.ceil(2 * len(tested) / options.alpha)))  # p can reach alpha after Bonferroni
        result = ac.offset_clustering(mine["offset"].to_numpy(), mine["limit"].to_numpy(), rng, jitter=options.jitter,
                                      n_null=draws)
        p_adj = min(1.0, result["pvalue"] * len(tested))
        excess = (result["count"] - result["expected"]) / len(mine)  # effect: beyond what jitter piles up by chance
        verdict = grade(excess, p_adj, options.motif_share_look, options.motif_share_shortcut, options.alpha)
        matched = matched_motif(motif, options)
        centre = np.median(run.lengths) / 2
        if verdict == "shortcut likely" and matched and abs(result["offset"] - centre) <= 50:
            verdict = "look"  # a known motif at the summit of summit-centred regions
        rows.append((excess, row(
            "motif_position", f"share of {motif.motif}'s instances within 5 bp of one offset, beyond the null max",
            f"jitter of <= {options.jitter} bp ({draws} draws), Bonferroni over {len(tested)} motifs",
            excess, p_adj, verdict,
            f"{motif.motif} ({motif.consensus}): {result['count']} of {len(mine)} instances within 5 bp of offset "
            f"{result['offset']}{ac.edge_note(result['offset'], int(mine['limit'].median()), options.edge_k)} "
            f"(null max {result['expected']:.1f})"
            + (f"; matches {motif.match_name}" if matched else "; no database match"))))
    flagged = [r for _, r in rows if r["verdict"] != "ok"]
    if flagged:
        return flagged
    if not rows:
        return [row("motif_position", "largest share of a motif's instances within 5 bp", "-", np.nan, np.nan, "n/a",
                    "no motif with 10 or more instances" if motifs is not None and len(motifs)
                    else "seqsal motifs found no motif")]
    best = max(rows, key=lambda pair: pair[0])[1]
    best["evidence"] = f"{len(rows)} motifs tested, none piled up; largest: " + best["evidence"]
    return [best]


def matched_motif(motif, options: AuditOptions) -> bool:
    """Whether a ``motifs.tsv`` row matched a database motif (q <= ``match_q``)."""
    q = getattr(motif, "match_qvalue", np.nan)
    return bool(np.isfinite(q) and q <= options.match_q)


def check_unmatched_motifs(run: AuditRun, options: AuditOptions, motifs: pd.DataFrame | None) -> list[dict]:
    """Check 2: motifs carrying >= ``contribution_share`` of the motifs' |contribution| with no database match."""
    statistic = "share of the motifs' |contribution| (n_seqlets x |CWM sum|)"
    why = "no motifs.tsv: run `seqsal motifs`" if motifs is None else "seqsal motifs found no motif" if not len(motifs) \
        else "motifs were not matched to a database (seqsal motifs --database none)" \
        if "match_qvalue" not in motifs or motifs["match_qvalue"].isna().all() else ""
    if why:
        return [row("unmatched_motif", statistic, "-", np.nan, np.nan, "n/a", why)]
    weight = motifs["n_seqlets"].to_numpy(np.float64) * motifs["contribution"].abs().to_numpy(np.float64)
    share = weight / max(weight.sum(), 1e-30)
    rows = []
    for motif, motif_share in zip(motifs.itertuples(index=False), share):
        if matched_motif(motif, options) or motif_share < options.contribution_share / 2:
            continue
        word = str(motif.consensus).upper()
        count = ac.verbatim_regions(run.sequences, word)
        expected = ac.verbatim_expected(run.sequences, word)
        pvalue = ac.poisson_upper(count, expected)
        repeated = count >= 5 and pvalue <= options.alpha
        large = motif_share >= options.contribution_share
        if not (large or repeated):
            continue
        # a TF's sites are degenerate over a long motif, but its short core recurs verbatim (AP-1's TGAsTCA in
        # most of its sites): only a long word copied verbatim (an adapter, a vector, a repeat) is evidence of an
        # artefact; a short one may be a real motif the database lacks
        copied = repeated and len(word) >= options.copied_length
        verdict = "shortcut likely" if large and copied else "look"
        rows.append(row("unmatched_motif", statistic, f"database q > {options.match_q}; verbatim count against "
                        "independent bases (Poisson)", motif_share, pvalue, verdict,
                        f"{motif.motif} consensus {word} (best match q {getattr(motif, 'match_qvalue', np.nan):.2g}) "
                        f"in {count} regions verbatim, {expected:.2g} expected by chance"
                        + ("" if copied or not repeated else
                           f"; shorter than {options.copied_length} bp, as a TF's core that the database lacks "
                           "(a narrow or other-species database) would be")))
    if rows:
        return rows
    unmatched = [f"{m.motif}" for m in motifs.itertuples(index=False) if not matched_motif(m, options)]
    return [row("unmatched_motif", statistic, f"database q > {options.match_q}", float(share.max()), np.nan, "ok",
                f"{len(motifs)} motifs, {len(unmatched)} unmatched ({', '.join(unmatched) or 'none'}), none with a "
                f"large share")]
