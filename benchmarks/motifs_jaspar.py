"""The demo's discovered motifs matched to a whole JASPAR release (``seqsal motifs --database jaspar``).

For a run folder on which ``seqsal motifs`` has run (``motifs.meme``), this script

1. converts the JASPAR release (pyjaspar's offline SQLite, ``seqsal[jaspar]``) into a private cache and times the
   conversion (cold) and the cached lookup;
2. pairs each planted motif (the six of ``data/demo/README.md``) with the discovered motif that matches its
   planted matrix best (the bundled subset, q < 0.05);
3. matches the discovered motifs against the whole collection (TOMTOM-style, :func:`seqsal.motifs.compare_motifs`)
   and reports, per planted motif: the top hit, the rank and q-value of the true ID (exact version, and any
   version of the same matrix) and the time of the comparison.

Usage::

    seqsal attribute data/demo/genome.fa data/demo/regions.bed --model data/demo/model.safetensors -o demo_out
    seqsal motifs demo_out
    python benchmarks/motifs_jaspar.py demo_out [--release JASPAR2024] [--all-versions] [--tax-group vertebrates]

Prints a Markdown table and a JSON record.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time

import pandas as pd

from seqsal.datasets import bundled_motifs
from seqsal.motifs import best_matches, compare_motifs, read_meme
from seqsal.motifs.jaspar import JasparQuery, jaspar_database

PLANTED = {"MA0140.2": "GATA1::TAL1", "MA0080.3": "Spi1", "MA0466.1": "CEBPB", "MA0099.3": "FOS::JUN",
           "MA0139.1": "CTCF", "MA0138.2": "REST"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="run folder with motifs.meme (seqsal motifs)")
    parser.add_argument("--release", default=None)
    parser.add_argument("--tax-group", default="vertebrates")
    parser.add_argument("--all-versions", action="store_true")
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
    found = read_meme(f"{args.run}/motifs.meme")
    planted = [m for m in read_meme(bundled_motifs()) if m.identifier in PLANTED]
    pairs = compare_motifs(found, planted)
    pairs = pairs[pairs["qvalue"] < 0.05].sort_values("pvalue").drop_duplicates("target_id")
    started = time.perf_counter()
    matches = compare_motifs(found, known)
    t_match = time.perf_counter() - started
    rows = []
    for identifier, factor in PLANTED.items():
        pair = pairs[pairs["target_id"] == identifier]
        if pair.empty:
            rows.append({"planted": f"{factor} ({identifier})", "motif": "not found"})
            continue
        motif = pair["query"].iloc[0]
        hits = best_matches(matches[matches["query"] == motif], len(known)).reset_index(drop=True)
        exact = hits.index[hits["target_id"] == identifier]
        family = hits.index[hits["target_id"].str.split(".").str[0] == identifier.split(".")[0]]
        top = hits.iloc[0]
        rows.append({
            "planted": f"{factor} ({identifier})", "motif": motif,
            "top hit": f"{top['target_id']} {top['target_name']} (q {top['qvalue']:.2g})",
            "rank of the ID": int(exact[0]) + 1 if len(exact) else None,
            "rank of any version": int(family[0]) + 1 if len(family) else None,
            "q of that version": float(hits.loc[family[0], "qvalue"]) if len(family) else None,
        })
    table = pd.DataFrame(rows)
    print(table.to_markdown(index=False) if hasattr(table, "to_markdown") else table.to_string(index=False))
    print(json.dumps({"database": str(path.name), "n_known": len(known), "n_found": len(found),
                      "convert_s": round(t_convert, 2), "cached_s": round(t_cached, 4), "match_s": round(t_match, 2),
                      "rows": rows}, indent=1, default=str))


if __name__ == "__main__":
    main()
