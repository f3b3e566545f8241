"""Synthetic worlds of the calibration zoo: genomes with planted JASPAR motifs and a known activity rule.

Each world is a random genome (GC 42 %) with "elements" (one every ``spacing`` bp, sites planted in
their central ``core`` bp, as in ``data/demo/make_demo.py``), drawn from real JASPAR CORE matrices
(``data/motifs/jaspar_subset.meme``). The activity of a stretch ``[start, end)`` is the sum of the
weights of its *activity units* that lie wholly inside it:

* a site of a standalone motif counts its motif's weight (activators > 0, repressors < 0, decoys 0);
* a cooperative pair ``(first, second, weight, max_distance)`` counts ``weight`` once for each matched
  pair (a ``first`` and a ``second`` site whose centres are at most ``max_distance`` bp apart, matched
  greedily by distance, each site at most once); the span of both sites must lie inside. A lone member
  counts nothing.

World A reuses the demo's motifs and weights (another seed, larger training chromosomes). World B uses
another subset of motifs, another weighting, a repressor (YY1), a decoy that is planted but inert (MYC) and
a cooperative pair (HNF1A + Gata1 within 50 bp). ``chr3`` is held out from training in both.

Run from the repository root (a few seconds; deterministic)::

    python benchmarks/zoo/worlds.py [--out benchmarks/zoo/build/worlds] [--large]

Writes ``<out>/<world>/``: ``genome.fa``, ``regions.bed`` (narrowPeak: 600-bp regions on elements of
``chr1[0, 450 kb)`` and of the held-out ``chr3``, strands cycling +, -, ., plus background regions that
hold no planted site), ``planted.bed`` (every planted site: chrom, start, end, motif, 0, strand — BED6 as
the demo's), ``sites.tsv`` (the same sites with their element, pair and ``effect``: the weight the site
carries in the activity rule — its motif's weight, the pair weight for a matched pair member, 0 for a lone
pair member or a decoy), ``elements.bed`` and ``world.json`` (the rule). ``--large`` also writes
``A_large/``: world A's chromosomes plus four more (the same process), with 5,000 1-kb training-chromosome
regions (4,000 on elements, 1,000 background): 5 Mbp, for timing motif discovery (issue 13).
"""
from __future__ import annotations

import argparse
import json
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from seqsal.encode import reverse_complement
from seqsal.motifs import read_meme
from seqsal.simulate import plant_sites, random_sequence, sample_site

ROOT = Path(__file__).resolve().parents[2]
MOTIF_FILE = ROOT / "data" / "motifs" / "jaspar_subset.meme"
BUILD = Path(__file__).resolve().parent / "build"


@dataclass(frozen=True)
class Pair:
    """A cooperative pair: ``weight`` counts only when a ``first`` and a ``second`` site have centres
    at most ``max_distance`` bp apart (both wholly inside the stretch)."""

    first: str
    second: str
    weight: float
    max_distance: int = 50

    @property
    def name(self) -> str:
        return f"{self.first}+{self.second}"


@dataclass(frozen=True)
class WorldSpec:
    """Everything that defines a world; ``build_world(spec)`` is a pure function of it.

    Attributes
    ----------
    weights
        Standalone motif -> weight (planted ``site_rate``-Poisson per element, uniformly over motifs).
    pairs
        Cooperative pairs; a pair is planted in an element with probability ``pair_rate`` (centres
        ``pair_gap`` bp apart) and a lone member with probability ``lone_rate``.
    chrom_sizes
        Chromosome -> length (bp); ``held_out`` is never trained on.
    region_spans
        Chromosome -> end of the stretch ``[0, end)`` whose elements get a region in ``regions.bed``.
    """

    name: str
    seed: int
    weights: dict[str, float]
    pairs: tuple[Pair, ...] = ()
    chrom_sizes: dict[str, int] = field(default_factory=lambda: {"chr1": 1_000_000, "chr2": 800_000, "chr3": 250_000})
    held_out: str = "chr3"
    spacing: int = 1500
    core: int = 240
    site_rate: float = 1.5
    pair_rate: float = 0.0
    lone_rate: float = 0.0
    pair_gap: tuple[int, int] = (14, 40)
    region_width: int = 600
    region_spans: dict[str, int] = field(default_factory=lambda: {"chr1": 450_000, "chr3": 250_000})
    n_background: int = 80
    gap: tuple[str, int, int] = ("chr2", 100_000, 100_300)  # an assembly gap of N, as real genomes have
    soft_mask: tuple[str, int, int] = ("chr1", 5_000, 7_000)  # a lower-case stretch
    noise_sd: float = 0.1  # measurement noise of the simulated activity (training and held-out targets)

    @property
    def train_chroms(self) -> list[str]:
        return [c for c in self.chrom_sizes if c != self.held_out]

    def motif_names(self) -> list[str]:
        """Every motif planted in this world (standalone ones first, then pair members)."""
        names = list(self.weights)
        for pair in self.pairs:
            names += [m for m in (pair.first, pair.second) if m not in names]
        return names


DEMO_WEIGHTS = {"GATA1::TAL1": 1.0, "Spi1": 0.8, "CEBPB": 0.7, "FOS::JUN": 1.2, "CTCF": 0.5, "REST": -1.2}
WORLD_A = WorldSpec(name="A", seed=11, weights=DEMO_WEIGHTS)
WORLD_B = WorldSpec(
    name="B", seed=23,
    weights={"FOXA1": 1.0, "ELK1": 0.9, "HNF4A": 0.8, "IRF8": 0.7, "NFYA": 0.6, "YY1": -1.0, "MYC": 0.0},
    pairs=(Pair("HNF1A", "Gata1", 1.5, 50),),
    spacing=1800, core=300, pair_rate=0.4, lone_rate=0.3,
)
WORLDS = {"A": WORLD_A, "B": WORLD_B}
LARGE_EXTRA = {"chr4": 1_200_000, "chr5": 1_200_000, "chr6": 1_200_000, "chr7": 1_200_000}


def load_pwms(names: list[str], path: Path = MOTIF_FILE) -> dict[str, np.ndarray]:
    """``(4, W)`` letter-probability matrices of ``names`` from a MEME file (KeyError if one is missing)."""
    pwms = {m.name: m.pwm for m in read_meme(path)}
    return {name: pwms[name] for name in names}


def plant_pair(sequence: np.ndarray, pair: Pair, pwms: dict[str, np.ndarray], rng: np.random.Generator,
               lo: int, hi: int, occupied: np.ndarray, gap: tuple[int, int]) -> list[tuple[str, int, int, str]]:
    """Plant one cooperative pair (order and strands random, centres ``gap`` bp apart) in ``[lo, hi)``.

    Returns the planted ``(motif, start, end, strand)`` (empty when no free place was found in 50 tries).
    """
    for _attempt in range(50):
        names = [pair.first, pair.second] if rng.random() < 0.5 else [pair.second, pair.first]
        widths = [pwms[n].shape[1] for n in names]
        distance = int(rng.integers(gap[0], gap[1] + 1))
        first_start = int(rng.integers(lo, max(lo + 1, hi - distance - widths[1])))
        second_start = first_start + widths[0] // 2 + distance - widths[1] // 2
        starts = [first_start, second_start]
        ends = [s + w for s, w in zip(starts, widths)]
        if second_start < first_start + widths[0] + 1 or ends[1] > hi:
            continue
        if occupied[max(0, starts[0] - 2):ends[1] + 2].any():
            continue
        planted = []
        for name, start, end in zip(names, starts, ends):
            site = sample_site(pwms[name], rng)
            strand = "+" if rng.random() < 0.5 else "-"
            if strand == "-":
                site = reverse_complement(site)
            sequence[start:end] = np.frombuffer(site.encode(), dtype=np.uint8)
            occupied[start:end] = True
            planted.append((name, start, end, strand))
        return planted
    return []


def plant_chromosome(spec: WorldSpec, chrom: str, size: int, pwms: dict[str, np.ndarray],
                     rng: np.random.Generator) -> tuple[np.ndarray, list[tuple], list[tuple]]:
    """One chromosome: random sequence with elements every ~``spacing`` bp.

    Returns the ASCII sequence ``(size,)`` uint8, the sites ``(chrom, start, end, motif, strand, element)``
    and the elements ``(chrom, start, end, name, centre)`` (0-based half-open).
    """
    sequence = random_sequence(size, rng)
    occupied = np.zeros(size, dtype=bool)
    standalone = {name: pwms[name] for name in spec.weights}
    members = sorted({m for pair in spec.pairs for m in (pair.first, pair.second)})
    grid = np.arange(spec.spacing, size - spec.spacing, spec.spacing)
    centres = grid + rng.integers(-200, 200, size=len(grid))
    gap_chrom, gap_start, gap_end = spec.gap
    sites, elements = [], []
    for number, centre in enumerate(centres):
        lo, hi = int(centre - spec.core // 2), int(centre + spec.core // 2)
        if chrom == gap_chrom and hi > gap_start - 1000 and lo < gap_end + 1000:
            continue
        name = f"{chrom}_element{number + 1}"
        n_sites = int(np.clip(1 + rng.poisson(spec.site_rate), 1, 5))
        planted = plant_sites(sequence, standalone, n_sites, rng, lo, hi, occupied=occupied)
        for pair in spec.pairs:
            if rng.random() < spec.pair_rate:
                planted += plant_pair(sequence, pair, pwms, rng, lo, hi, occupied, spec.pair_gap)
        if members and rng.random() < spec.lone_rate:
            lone = members[int(rng.integers(len(members)))]
            planted += plant_sites(sequence, {lone: pwms[lone]}, 1, rng, lo, hi, occupied=occupied)
        sites += [(chrom, start, end, motif, strand, name) for motif, start, end, strand in planted]
        elements.append((chrom, lo, hi, name, int(centre)))
    return sequence, sites, elements


def match_pairs(sites: pd.DataFrame, pairs: tuple[Pair, ...]) -> pd.DataFrame:
    """Match cooperative pairs greedily by centre distance; adds ``pair_id`` ('' when unmatched) and ``effect``.

    ``effect`` is a site's weight in the activity rule: its motif's weight for a standalone motif, the pair
    weight for a matched pair member, 0 otherwise.
    """
    sites = sites.reset_index(drop=True).copy()
    sites["pair_id"] = ""
    centre = (sites["start"] + sites["end"]) / 2
    for k, pair in enumerate(pairs):
        for chrom, group in sites.groupby("chrom", sort=False):
            first = group.index[group["motif"] == pair.first]
            second = group.index[group["motif"] == pair.second]
            candidates = sorted(
                (abs(centre[i] - centre[j]), i, j) for i in first for j in second
                if abs(centre[i] - centre[j]) <= pair.max_distance
            )
            used: set[int] = set()
            for _distance, i, j in candidates:
                if i in used or j in used:
                    continue
                used |= {i, j}
                tag = f"{pair.name}:{chrom}:{min(sites.at[i, 'start'], sites.at[j, 'start'])}"
                sites.loc[[i, j], "pair_id"] = tag
    return sites


def site_effects(sites: pd.DataFrame, spec: WorldSpec) -> np.ndarray:
    """``effect`` of every site (see :func:`match_pairs`), ``(n_sites,)`` float."""
    pair_weight = {p.name: p.weight for p in spec.pairs}
    effect = sites["motif"].map(spec.weights).fillna(0.0).to_numpy(dtype=float).copy()
    paired = sites["pair_id"] != ""
    effect[paired.to_numpy()] = [pair_weight[tag.split(":")[0]] for tag in sites.loc[paired, "pair_id"]]
    return effect


def activity_units(sites: pd.DataFrame, spec: WorldSpec) -> pd.DataFrame:
    """The additive units of the activity rule: ``chrom, start, end, name, weight, kind`` (site or pair).

    Sites of zero weight (decoys, lone pair members) are left out; a matched pair is one unit spanning both.
    """
    rows = []
    single = sites[(sites["pair_id"] == "") & (sites["motif"].map(spec.weights).fillna(0.0) != 0)]
    for site in single.itertuples():
        rows.append((site.chrom, site.start, site.end, site.motif, float(spec.weights[site.motif]), "site"))
    pair_weight = {p.name: p.weight for p in spec.pairs}
    for tag, group in sites[sites["pair_id"] != ""].groupby("pair_id", sort=False):
        name = tag.split(":")[0]
        rows.append((group["chrom"].iloc[0], int(group["start"].min()), int(group["end"].max()), name,
                     float(pair_weight[name]), "pair"))
    units = pd.DataFrame(rows, columns=["chrom", "start", "end", "name", "weight", "kind"])
    return units.sort_values(["chrom", "start"], kind="stable").reset_index(drop=True)


@dataclass
class World:
    """A built world: sequences (ASCII uint8 per chromosome), sites, elements and activity units."""

    spec: WorldSpec
    sequences: dict[str, np.ndarray]
    sites: pd.DataFrame
    elements: pd.DataFrame
    units: pd.DataFrame

    def __post_init__(self):
        self._index = {}
        for chrom, group in self.units.groupby("chrom", sort=False):
            self._index[chrom] = (group["start"].to_numpy(), group["end"].to_numpy(), group["weight"].to_numpy())

    def unit_arrays(self, chrom: str, start: int, end: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Starts, ends and weights of the activity units wholly inside ``chrom:[start, end)``."""
        if chrom not in self._index:
            return np.zeros(0, int), np.zeros(0, int), np.zeros(0)
        starts, ends, weights = self._index[chrom]
        lo, hi = np.searchsorted(starts, start, "left"), np.searchsorted(starts, end, "left")
        inside = ends[lo:hi] <= end
        return starts[lo:hi][inside], ends[lo:hi][inside], weights[lo:hi][inside]

    def activity(self, chrom: str, start: int, end: int) -> float:
        """Noise-free activity of ``chrom:[start, end)``: summed weights of the units wholly inside."""
        return float(self.unit_arrays(chrom, start, end)[2].sum())


def assemble(spec: WorldSpec, sequences: dict[str, np.ndarray], sites: list[tuple], elements: list[tuple]) -> World:
    """A :class:`World` from planted chromosomes: sites sorted, pairs matched, effects and units computed."""
    sites = pd.DataFrame(sites, columns=["chrom", "start", "end", "motif", "strand", "element"])
    sites = sites.sort_values(["chrom", "start"], kind="stable").reset_index(drop=True)
    sites = match_pairs(sites, spec.pairs)
    sites["effect"] = site_effects(sites, spec)
    elements = pd.DataFrame(elements, columns=["chrom", "start", "end", "name", "centre"])
    return World(spec, sequences, sites, elements, activity_units(sites, spec))


def build_world(spec: WorldSpec) -> World:
    """Build a world deterministically from its spec (each chromosome from its own seeded stream, so a
    spec with more chromosomes keeps the others unchanged)."""
    pwms = load_pwms(spec.motif_names())
    sequences, sites, elements = {}, [], []
    for number, (chrom, size) in enumerate(spec.chrom_sizes.items()):
        rng = np.random.default_rng([spec.seed, number])
        sequence, chrom_sites, chrom_elements = plant_chromosome(spec, chrom, size, pwms, rng)
        sequences[chrom] = sequence
        sites += chrom_sites
        elements += chrom_elements
    for (chrom, start, end), kind in ((spec.gap, "gap"), (spec.soft_mask, "mask")):
        if chrom in sequences:
            piece = sequences[chrom][start:end]
            lower = np.frombuffer(piece.tobytes().lower(), np.uint8)
            sequences[chrom][start:end] = ord("N") if kind == "gap" else lower
    return assemble(spec, sequences, sites, elements)


def simulated_world(spec: WorldSpec, size: int, rng: np.random.Generator, pwms: dict[str, np.ndarray]) -> World:
    """A fresh one-chromosome world (``sim``, ``size`` bp) drawn from ``spec``'s process: training data with
    new site instances (the demo's model was trained on such simulated windows too)."""
    sequence, sites, elements = plant_chromosome(spec, "sim", size, pwms, rng)
    sim_spec = replace(spec, chrom_sizes={"sim": size}, held_out="none")
    return assemble(sim_spec, {"sim": sequence}, sites, elements)


def background_regions(world: World, n: int, width: int, chroms: list[str], rng: np.random.Generator,
                       margin: int = 50) -> list[tuple[str, int, int]]:
    """``n`` stretches of ``width`` bp on ``chroms`` holding no planted site within ``margin`` bp (nor an N)."""
    sizes = world.spec.chrom_sizes
    by_chrom = {c: g for c, g in world.sites.groupby("chrom")}
    picked: list[tuple[str, int, int]] = []
    for _attempt in range(200 * n):
        if len(picked) == n:
            break
        chrom = chroms[int(rng.integers(len(chroms)))]
        start = int(rng.integers(margin, sizes[chrom] - width - margin))
        group = by_chrom.get(chrom)
        near = group is not None and ((group["end"] > start - margin) & (group["start"] < start + width + margin)).any()
        has_n = (world.sequences[chrom][start:start + width] == ord("N")).any()
        overlaps = any(c == chrom and s < start + width and start < e for c, s, e in picked)
        if not (near or has_n or overlaps):
            picked.append((chrom, start, start + width))
    if len(picked) < n:
        raise RuntimeError(f"found only {len(picked)} of {n} background regions free of sites")
    return picked


def make_regions(world: World, width: int, spans: dict[str, int], n_background: int, rng: np.random.Generator,
                 max_elements: int | None = None, cycle_strands: bool = True) -> pd.DataFrame:
    """narrowPeak rows: ``width``-bp regions centred on the elements inside ``spans`` (summit = element
    centre), then ``n_background`` background regions (summit at the middle)."""
    rows = []
    chosen = world.elements[[row.chrom in spans and row.centre < spans[row.chrom] - width
                             for row in world.elements.itertuples()]]
    if max_elements is not None:
        chosen = chosen.iloc[:max_elements]
    for row in chosen.itertuples():
        start = int(row.centre - width // 2)
        strand = "+-."[len(rows) % 3] if cycle_strands else "."
        rows.append((row.chrom, start, start + width, row.name, 0, strand, 0, -1, -1, row.centre - start))
    for k, (chrom, start, end) in enumerate(background_regions(world, n_background, width, list(spans), rng)):
        rows.append((chrom, start, end, f"background{k + 1}", 0, ".", 0, -1, -1, width // 2))
    columns = ["chrom", "start", "end", "name", "score", "strand", "signal", "p", "q", "summit"]
    return pd.DataFrame(rows, columns=columns)


def fasta_text(sequences: dict[str, np.ndarray], line_width: int = 60) -> str:
    """FASTA text with ``line_width`` bases per line."""
    parts = []
    for chrom, sequence in sequences.items():
        text = sequence.tobytes().decode()
        parts.append(f">{chrom}\n" + "\n".join(text[i:i + line_width] for i in range(0, len(text), line_width)) + "\n")
    return "".join(parts)


def write_if_changed(path: Path, text: str) -> bool:
    """Write ``text`` to ``path`` through a temporary file and a rename (a reader never sees half a file),
    and only when it differs from what is there (a rebuild leaves identical files and their ``.fai`` alone).
    Returns whether the file was written."""
    data = text.encode()
    if path.exists() and path.stat().st_size == len(data) and path.read_bytes() == data:
        return False
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return True


def save_atomically(path: Path, write: Callable[[str], object]) -> None:
    """Call ``write(temporary_path)``, then rename the result to ``path`` (readers see the old or the new file)."""
    tmp = path.with_name(path.name + ".tmp")
    write(str(tmp))
    os.replace(tmp, path)


def write_world(world: World, regions: pd.DataFrame, out: Path) -> dict:
    """Write a world's files into ``out`` (see the module docstring); returns its ``world.json`` dict."""
    out.mkdir(parents=True, exist_ok=True)
    spec = world.spec
    if write_if_changed(out / "genome.fa", fasta_text(world.sequences)):
        (out / "genome.fa.fai").unlink(missing_ok=True)
    track = f"track type=narrowPeak name=zoo_world_{spec.name}\n"
    write_if_changed(out / "regions.bed", track + regions.to_csv(sep="\t", header=False, index=False))
    planted = world.sites.assign(score=0)[["chrom", "start", "end", "motif", "score", "strand"]]
    write_if_changed(out / "planted.bed", planted.to_csv(sep="\t", header=False, index=False))
    write_if_changed(out / "sites.tsv", world.sites.to_csv(sep="\t", index=False))
    elements = world.elements[["chrom", "start", "end", "name"]]
    write_if_changed(out / "elements.bed", elements.to_csv(sep="\t", header=False, index=False))
    in_regions = sum(len(world.sites[(world.sites.chrom == r.chrom) & (world.sites.start >= r.start)
                                     & (world.sites.end <= r.end)]) for r in regions.itertuples())
    info = {
        "world": spec.name, "spec": json.loads(json.dumps(asdict(spec))),
        "motif_source": "JASPAR CORE (data/motifs/jaspar_subset.meme, CC BY 4.0)",
        "activators": sorted(m for m, w in spec.weights.items() if w > 0),
        "repressors": sorted(m for m, w in spec.weights.items() if w < 0),
        "decoys": sorted(m for m, w in spec.weights.items() if w == 0),
        "pairs": [asdict(p) | {"name": p.name} for p in spec.pairs],
        "held_out_chromosome": spec.held_out, "train_chromosomes": spec.train_chroms,
        "genome_bp": int(sum(spec.chrom_sizes.values())),
        "n_elements": int(len(world.elements)), "n_sites": int(len(world.sites)),
        "sites_per_motif": {k: int(v) for k, v in world.sites["motif"].value_counts().sort_index().items()},
        "matched_pairs": int((world.units["kind"] == "pair").sum()),
        "n_regions": int(len(regions)), "regions_bp": int((regions["end"] - regions["start"]).sum()),
        "n_background_regions": int(regions["name"].str.startswith("background").sum()),
        "sites_in_regions": int(in_regions),
        "activity_rule": "activity of [start, end) = sum of weights of the activity units wholly inside it "
                         "(standalone sites: motif weight; matched cooperative pairs: pair weight, span of both "
                         "sites inside) + N(0, noise_sd) measurement noise",
    }
    write_if_changed(out / "world.json", json.dumps(info, indent=2) + "\n")
    return info


def default_regions(world: World) -> pd.DataFrame:
    """The world's ``regions.bed`` rows (seeded by the world's seed)."""
    spec = world.spec
    rng = np.random.default_rng([spec.seed, 1000])
    return make_regions(world, spec.region_width, spec.region_spans, spec.n_background, rng)


def large_world() -> tuple[World, pd.DataFrame]:
    """World A with four more training chromosomes and 5,000 1-kb regions (5 Mbp) on its training chromosomes."""
    spec = replace(WORLD_A, name="A_large", chrom_sizes={**WORLD_A.chrom_sizes, **LARGE_EXTRA})
    world = build_world(spec)
    spans = {c: spec.chrom_sizes[c] for c in spec.train_chroms}
    rng = np.random.default_rng([spec.seed, 2000])
    regions = make_regions(world, 1000, spans, 1000, rng, max_elements=4000, cycle_strands=False)
    return world, regions


def build_all(out: Path, large: bool = False) -> dict[str, dict]:
    """Build and write worlds A and B (and ``A_large`` with ``large``) under ``out``; returns their infos."""
    infos = {}
    for name, spec in WORLDS.items():
        world = build_world(spec)
        infos[name] = write_world(world, default_regions(world), out / name)
    if large:
        world, regions = large_world()
        infos["A_large"] = write_world(world, regions, out / "A_large")
    return infos


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=BUILD / "worlds")
    parser.add_argument("--large", action="store_true", help="also write A_large (5 Mbp of regions)")
    args = parser.parse_args()
    for name, info in build_all(args.out, args.large).items():
        print(f"world {name}: {info['genome_bp']:,} bp, {info['n_elements']} elements, {info['n_sites']} sites, "
              f"{info['matched_pairs']} matched pairs, {info['n_regions']} regions ({info['regions_bp']:,} bp, "
              f"{info['sites_in_regions']} sites in them) -> {args.out / name}")


if __name__ == "__main__":
    main()
