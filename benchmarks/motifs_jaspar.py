"""The demo's discovered motifs matched to a whole JASPAR release (``seqsal motifs --database jaspar``).

For a run folder of ``seqsal attribute``, this script

1. discovers its motifs as ``seqsal motifs`` does (:func:`seqsal.motifs.run_motifs`, in a scratch copy of the
   folder: the run's own ``motifs.*`` files are left alone), so that each motif keeps its flanking context,
   which the matcher compares (:func:`seqsal.motifs.match.query_matrix`; ``--context 0``: the trimmed PWM
   alone, as before);
2. converts the JASPAR release (pyjaspar's offline SQLite, ``seqsal[jaspar]``) into a private cache and times the
   conversion (cold) and the cached lookup;
3. pairs each planted motif (the six of ``data/demo/README.md``) with the discovered motif that matches its
   planted matrix best (the bundled subset, q < 0.05);
4. matches the discovered motifs against the whole collection (TOMTOM-style, :func:`seqsal.motifs.compare_motifs`)
   and reports, per planted motif: the top hit, the rank and q-value of the true ID (exact version, and any
   version of the same matrix, and of JASPAR's TF family annotation) and the time of the comparison;
5. with ``--oracle R``: a ceiling. Each planted matrix is estimated ``R`` times from as many sites drawn from
   it as its discovered motif has seqlets (known strand, full width, 4 columns of demo-genome background as
   context) and matched to the same collection: how often is the planted ID, any version, the top hit? When
   the planted matrix's own samples name it every time, a miss comes from how the discovered motif differs
   from the planted matrix (trimmed, a palindrome's strands merged, seqlets enriched for strong sites), not
   from the collection's resolution.

Usage::

    seqsal attribute data/demo/genome.fa data/demo/regions.bed --model data/demo/model.safetensors -o demo_out
    python benchmarks/motifs_jaspar.py demo_out [--release JASPAR2024] [--all-versions] [--tax-group vertebrates]
        [--context 4] [--oracle 20]   (one command line)

Prints a Markdown table and a JSON record.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time

import numpy as np
import pandas as pd

from seqsal.datasets import bundled_motifs
from seqsal.motifs import Motif, best_matches, compare_motifs, read_meme, run_motifs
from seqsal.motifs.jaspar import JasparQuery, jaspar_database
from seqsal.motifs.match import CONTEXT_COLUMNS

PLANTED = {"MA0140.2": "GATA1::TAL1", "MA0080.3": "Spi1", "MA0466.1": "CEBPB", "MA0099.3": "FOS::JUN",
           "MA0139.1": "CTCF", "MA0138.2": "REST"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="run folder of seqsal attribute")
    parser.add_argument("--release", default=None)
    parser.add_argument("--tax-group", default="vertebrates")
    parser.add_argument("--all-versions", action="store_true")
    parser.add_argument("--context", type=int, default=CONTEXT_COLUMNS,
                        help="flank columns compared on each side (0: the trimmed motif alone)")
    parser.add_argument("--oracle", type=int, default=0, metavar="R",
                        help="repeats of the sampled-planted-matrix ceiling (0: not run)")
    args = parser.parse_args()
    query = JasparQuery(release=args.release, tax_group=args.tax_group, all_versions=args.all_versions)
    with tempfile.TemporaryDirectory() as cache:
        started = time.perf_counter()
        path = jaspar_database(query, cache)
        t_convert = time.perf_counter() - started
        started = time.perf_counter()
        jaspar_database(query, cache)
        t_cached = time.perf_counter() - started
        known = read_meme(path)
    found = discovered_motifs(args.run)
    planted = [m for m in read_meme(bundled_motifs()) if m.identifier in PLANTED]
    pairs = compare_motifs(found, planted, context=args.context)
    pairs = pairs[pairs["qvalue"] < 0.05].sort_values("pvalue").drop_duplicates("target_id")
    started = time.perf_counter()
    matches = compare_motifs(found, known, context=args.context)
    t_match = time.perf_counter() - started
    families = JasparFamilies(args.release)
    rows = []
    for identifier, factor in PLANTED.items():
        pair = pairs[pairs["target_id"] == identifier]
        if pair.empty:
            rows.append({"planted": f"{factor} ({identifier})", "motif": "not found"})
            continue
        motif = pair["query"].iloc[0]
        hits = best_matches(matches[matches["query"] == motif], len(known)).reset_index(drop=True)
        exact = hits.index[hits["target_id"] == identifier]
        version = hits.index[hits["target_id"].str.split(".").str[0] == identifier.split(".")[0]]
        same_family = families.same_family_rank(hits["target_id"], identifier)
        top = hits.iloc[0]
        rows.append({
            "planted": f"{factor} ({identifier})", "motif": motif,
            "top hit": f"{top['target_id']} {top['target_name']} (q {top['qvalue']:.2g})",
            "motif width": int(next(m for m in found if m.identifier == motif).pwm.shape[1]),
            "rank of the ID": int(exact[0]) + 1 if len(exact) else None,
            "rank of any version": int(version[0]) + 1 if len(version) else None,
            "q of that version": float(hits.loc[version[0], "qvalue"]) if len(version) else None,
            "rank of its JASPAR family": same_family,
            "ahead of it": ", ".join(hits["target_name"].iloc[:min(int(version[0]), 8)]) if len(version) else "",
        })
    if args.oracle:
        sizes = {identifier: next(m.nsites for m in found if m.identifier == pairs.loc[pairs["target_id"] == identifier,
                 "query"].iloc[0]) for identifier in PLANTED if identifier in set(pairs["target_id"])}
        ceiling = oracle_ceiling({m.identifier: m.pwm for m in planted if m.identifier in sizes}, sizes, known,
                                 families, args.oracle, args.context)
        for row in rows:
            row.update(ceiling.get(row["planted"].split("(")[-1].rstrip(")"), {}))
    table = pd.DataFrame(rows)
    print(table.to_markdown(index=False) if hasattr(table, "to_markdown") else table.to_string(index=False))
    print(json.dumps({"database": str(path.name), "context": args.context, "n_known": len(known), "n_found": len(found),
                      "convert_s": round(t_convert, 2), "cached_s": round(t_cached, 4), "match_s": round(t_match, 2),
                      "rows": rows}, indent=1, default=str))


class JasparFamilies:
    """JASPAR's TF family annotation of each matrix (pyjaspar), e.g. ``Fos-related, Jun-related`` for FOS::JUN."""

    def __init__(self, release: str | None):
        from pyjaspar import jaspardb

        self.db = jaspardb(release=release) if release else jaspardb()
        self.cache: dict[str, tuple] = {}

    def family(self, matrix_id: str) -> tuple:
        if matrix_id not in self.cache:
            record = self.db.fetch_motif_by_id(matrix_id)
            self.cache[matrix_id] = tuple(sorted(record.tf_family or [])) if record is not None else ()
        return self.cache[matrix_id]

    def same_family_rank(self, ranked_ids: pd.Series, identifier: str) -> int | None:
        """1-based rank of the first matrix annotated with exactly the family of ``identifier`` (None: none)."""
        wanted = self.family(identifier)
        for rank, matrix_id in enumerate(ranked_ids, 1):
            if self.family(matrix_id) == wanted:
                return rank
        return None


def oracle_ceiling(planted: dict, sizes: dict, known: list, families: JasparFamilies, repeats: int,
                   context: int, seed: int = 0) -> dict:
    """How often a PWM estimated from ``sizes[id]`` sites drawn from planted matrix ``id`` names it first.

    Each repeat draws the counts of every column (and of ``context`` background columns each side, the demo
    genome's 42 % GC) from multinomials, makes a PWM with a pseudocount of 0.5 per base (as discovery does)
    and matches it to ``known``. Returns, per planted ID: the fraction of repeats whose top hit is any version of
    it, and whose top hit is in its JASPAR family.
    """
    rng = np.random.default_rng(seed)
    background = np.array([0.29, 0.21, 0.21, 0.29])
    queries = []
    for identifier, pwm in planted.items():
        n = sizes[identifier]
        for repeat in range(repeats):
            columns = [background] * context + list(np.asarray(pwm).T) + [background] * context
            counts = np.stack([rng.multinomial(n, column / column.sum()) for column in columns], axis=1)
            freq = (counts + 0.5) / (n + 2.0)
            extra = {"left_context": freq[:, :context], "right_context": freq[:, freq.shape[1] - context:]}
            queries.append(Motif(f"{identifier}|{repeat}", "oracle", freq[:, context:freq.shape[1] - context], n,
                                 extra=extra))
    top = best_matches(compare_motifs(queries, known, context=context), 1)
    top["planted"] = top["query"].str.split("|").str[0]
    out = {}
    for identifier, group in top.groupby("planted"):
        version = group["target_id"].str.split(".").str[0] == identifier.split(".")[0]
        family = [families.family(t) == families.family(identifier) for t in group["target_id"]]
        out[identifier] = {"ceiling: top hit any version": round(float(version.mean()), 2),
                           "ceiling: top hit in family": round(float(np.mean(family)), 2),
                           "ceiling: top hits": ", ".join(f"{name} {count}" for name, count in
                                                          group["target_name"].value_counts().head(3).items())}
    return out


def discovered_motifs(run: str) -> list:
    """The motifs ``seqsal motifs`` finds in ``run`` (flanking context included), from a scratch copy of it."""
    with tempfile.TemporaryDirectory() as scratch:
        for name in ("attributions.npz", "regions.tsv", "null.npz", "run.json"):
            if os.path.isfile(os.path.join(run, name)):
                shutil.copy(os.path.join(run, name), scratch)
        return [motif.to_motif() for motif in run_motifs(scratch, progress=False)["motifs"]]


if __name__ == "__main__":
    main()
