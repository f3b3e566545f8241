"""Issue 15, genomes: FASTA read through pyfaidx (seqsal.genome) with the checks pyfaidx lacks (seqsal.fasta).

Layouts FASTA files really have (blank lines, CRLF, a byte-order mark, one-line
chromosomes, bgzip), the one-line refusals of the ones that cannot be indexed
(never one of pyfaidx's raw exceptions), the ``.fai`` beside a genome that is
never written, the per-user index cache, and the ``unknown_bases`` policy.
"""
from __future__ import annotations

import gzip
import logging
import os
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pyfaidx
import pytest
from Bio import bgzf

import seqsal.genome as genome_module
from seqsal.errors import InputError
from seqsal.fasta import compression
from seqsal.genome import Genome, cached_index_path, index_matches_fasta


class Fai(NamedTuple):
    """One line of a ``.fai`` (the attribute names are pyfaidx's)."""

    name: str
    rlen: int
    offset: int
    lenc: int
    lenb: int


def fai_text(records: list[Fai]) -> str:
    """The text of a ``.fai`` file, as samtools faidx writes it."""
    return "".join(f"{r.name}\t{r.rlen}\t{r.offset}\t{r.lenc}\t{r.lenb}\n" for r in records)


def samtools_fai(path: Path) -> str:
    """The ``.fai`` text of a plain FASTA of the layout samtools and pyfaidx share (built by pyfaidx, elsewhere)."""
    with tempfile.TemporaryDirectory() as folder:
        index = Path(folder) / "index.fai"
        pyfaidx.Faidx(str(path), indexname=str(index)).close()
        return index.read_text()


def records_of(genome: Genome) -> list[Fai]:
    return [Fai(name, r.rlen, r.offset, r.lenc, r.lenb) for name, r in genome.index.items()]


def write_bgzf(path: Path, data: bytes, block: int = 65280) -> Path:
    """``data`` as bgzip writes it (BGZF blocks of at most ``block`` bytes, then the EOF block), with Biopython."""
    with bgzf.BgzfWriter(str(path), "wb") as out:
        for start in range(0, len(data), block):
            out.write(data[start:start + block])
            out.flush()
    return path


def render(records: list[tuple[str, str]], width: int, newline: str = "\n", header_space: bool = False,
           blank_between: int = 0, trailing_blank: int = 0, final_newline: bool = True,
           bom: bool = False) -> tuple[bytes, list[Fai]]:
    """A FASTA text and the .fai records samtools would write for it (computed while writing)."""
    text, records_out = bytearray(b"\xef\xbb\xbf" if bom else b""), []
    for k, (name, sequence) in enumerate(records):
        text += f">{' ' if header_space else ''}{name} description\n".replace("\n", newline).encode()
        offset = len(text)
        lines = [sequence[i:i + width] for i in range(0, len(sequence), width)]
        for i, line in enumerate(lines):
            last = k == len(records) - 1 and i == len(lines) - 1
            text += line.encode() + (newline.encode() if final_newline or not last or trailing_blank else b"")
        lenc = min(width, len(sequence))
        unterminated = len(lines) == 1 and k == len(records) - 1 and not final_newline and not trailing_blank
        records_out.append(Fai(name, len(sequence), offset, lenc, lenc + (0 if unterminated else len(newline))))
        if k < len(records) - 1:
            text += newline.encode() * blank_between
    text += newline.encode() * trailing_blank
    return bytes(text), records_out


def random_records(rng: np.random.Generator, n: int, max_length: int = 300) -> list[tuple[str, str]]:
    letters = np.frombuffer(b"ACGTacgtN", dtype=np.uint8)
    return [(f"seq{k}", rng.choice(letters, int(rng.integers(1, max_length))).tobytes().decode())
            for k in range(n)]


def assert_reads_back(genome: Genome, records: list[tuple[str, str]], rng: np.random.Generator) -> None:
    """Every sequence whole, and random stretches (some past either end: N-padded)."""
    assert [genome.fetch(name, 0, len(sequence)) for name, sequence in records] == [s for _, s in records]
    for name, sequence in records:
        for start in rng.integers(-5, len(sequence), 10).tolist():
            end = start + int(rng.integers(1, 80))
            expected = "".join(sequence[p] if 0 <= p < len(sequence) else "N" for p in range(start, end))
            assert genome.fetch(name, start, end) == expected


# ------------------------------------------------------------------------------------------- layouts
@pytest.mark.parametrize("seed", range(40))
def test_every_layout_is_indexed_and_read_back_through_pyfaidx(seed, tmp_path):
    """Random genomes in every accepted layout (blank lines between records and at the end, CRLF, '> name'
    headers, no final newline, a byte-order mark): the index pyfaidx builds through seqsal equals the records
    computed while writing the file (what samtools writes), every sequence and random stretches read back, nothing
    is written beside the file; the same records as a .fai beside it are used as they are."""
    rng = np.random.default_rng(seed)
    records = random_records(rng, int(rng.integers(1, 6)))
    layout = dict(width=int(rng.integers(1, 120)), newline=str(rng.choice(["\n", "\r\n"])),
                  header_space=bool(rng.integers(2)), blank_between=int(rng.integers(0, 3)),
                  trailing_blank=int(rng.integers(0, 3)), final_newline=bool(rng.integers(2)),
                  bom=bool(rng.integers(2)))
    data, expected = render(records, **layout)
    path = tmp_path / "g.fa"
    path.write_bytes(data)
    with Genome(path) as genome:
        assert genome.index_origin == "built" and records_of(genome) == expected, layout
        assert_reads_back(genome, records, rng)
    assert list(tmp_path.iterdir()) == [path]
    assert index_matches_fasta(str(path), {r.name: r for r in expected}), layout
    Path(str(path) + ".fai").write_text(fai_text(expected))
    with Genome(path) as genome:
        assert genome.index_origin == "beside"
        assert_reads_back(genome, records, rng)


def test_long_one_line_chromosome(tmp_path):
    sequence = "ACGT" * 600_000  # 2.4 Mb on one line
    data, expected = render([("chr1", sequence), ("chr2", "ACGT" * 10)], width=len(sequence))
    path = tmp_path / "g.fa"
    path.write_bytes(data)
    with Genome(path) as genome:
        assert records_of(genome) == expected and genome.fetch("chr1", 1_199_998, 1_200_003) == "GTACG"


def test_ends_in_blank_lines_and_blank_lines_between_records(tmp_path):
    """Issue 15 item 1: pyfaidx raised a raw RuntimeError for two blank lines at the end."""
    records = [("chr1", "ACGT" * 30), ("chr2", "GGCC" * 7)]
    data, expected = render(records, width=60, blank_between=2, trailing_blank=2)
    path = tmp_path / "g.fa"
    path.write_bytes(data)
    with pytest.raises(RuntimeError, match="Unhandled exception during fasta indexing"):  # what seqsal avoids
        pyfaidx.Faidx(str(path), indexname=str(tmp_path / "pyfaidx.fai"))
    (tmp_path / "pyfaidx.fai").unlink(missing_ok=True)
    with Genome(path) as genome:
        assert records_of(genome) == expected
        assert genome.fetch("chr1", 0, 120) == records[0][1]
        assert genome.fetch("chr2", -2, 30) == "NN" + records[1][1] + "NN"


@pytest.mark.parametrize("text, line, message", [
    (b"ACGT\n>chr1\nACGT\n", 1, "comes before the first '>' header line"),
    (b">chr1\nACGT\n\nACGT\n", 3, "sequence 'chr1' has a blank line (line 3) followed by more sequence"),
    (b">chr1\n\nACGT\n", 2, "blank line (line 2)"),
    (b">chr1\nACGT\n\n\nACGT\n\n\n", 3, "sequence 'chr1' has a blank line (line 3) followed by more sequence "
                                        "(line 5)"),
    (b">chr1\nACGTACGT\nACG\nACGTACGT\n", 3, "holds 3 bases, the lines before it 8"),
    (b"\xef\xbb\xbf\n\n>chr1\nACGTACGT\nACG\nACGTACGT\n", 5, "line 5 of sequence 'chr1' holds 3 bases"),
    (b">chr1\nACG\nACGTACGT\nA\n", 3, "holds 8 bases, more than the 3"),
    (b">chr1\nACGT\r\nACGT\nACGT\n", 3, "line 3 of sequence 'chr1' ends differently"),
    (b">chr1\nACGT\n>\nACGT\n", 3, "names no sequence"),
    (b">chr1\nACGT\n>chr1 again\nACGT\n", 3, "duplicate sequence name in FASTA: 'chr1' on lines 1 and 3"),
    (b">chr1\rACGT\rACGT\r", 1, "carriage return (old Mac line endings)"),
    (b">chr1\nAC\x00GT\n", 2, "not text (0x00 at column 3)"),
    (b">chr1\nACGT\nAC\xffT\n", 3, "not text (0xff at column 3)"),
    (b"\xef\xbb\xbf>chr1 \xc2\xb5\nACGT\nA\x01GT\n", 3, "not text (0x01 at column 2)"),
])
def test_unindexable_fasta_is_one_line_with_its_line(tmp_path, text, line, message):
    path = tmp_path / "bad.fa"
    path.write_bytes(text)
    with pytest.raises(InputError) as info:
        Genome(path)
    assert message in str(info.value) and str(info.value).startswith(f"{path}:{line}: ")
    assert "\n" not in str(info.value) and list(tmp_path.iterdir()) == [path]


@pytest.mark.parametrize("text, position, line, message", [
    (b">chr1\nACG\nACGTACGT\n>chr2\nAC\n", 6, 3, "line 3 of sequence 'chr1' holds 8 bases, more than the 3"),
    (b">chr1\nACG\nACGTACGT\r\nT", 9, 3, "line 3 of sequence 'chr1' holds 8 bases, more than the 3"),
    (b">chr1\nACGT\nACGTAC\nT", 7, 3, "line 3 of sequence 'chr1' holds 6 bases, more than the 4"),
    (b">chr1\r\nG\r\nG\n>chr2\r\nA\r\n", None, None, "the lines of sequence 'chr1' are not all of one length "
                                                    "and line ending"),
])
def test_layouts_pyfaidx_indexes_wrong_are_refused(tmp_path, text, position, line, message):
    """pyfaidx indexes these without complaint, then reads wrong bases (a last line longer than the others; a
    one-base last line after an irregular one; a last line ending unlike the others reads into the next header);
    seqsal checks every line break against the index and refuses them."""
    path = tmp_path / "bad.fa"
    path.write_bytes(text)
    index = tmp_path / "pyfaidx.fai"
    faidx = pyfaidx.Faidx(str(path), indexname=str(index), as_raw=True)
    true = "".join(part.strip() for part in text.decode().split(">")[1].splitlines()[1:])
    if position is None:
        assert faidx.fetch("chr1", 1, 2) != "GG"  # 'GG>'
    else:
        assert faidx.fetch("chr1", position + 1, position + 1) not in ("", true[position])
    faidx.close()
    index.unlink()
    with pytest.raises(InputError) as info:
        Genome(path)
    assert message in str(info.value) and str(info.value).startswith(f"{path}:{line}: " if line else f"{path}: ")
    assert list(tmp_path.iterdir()) == [path]


@pytest.mark.parametrize("text, message", [
    (b"", "no sequence found"),
    (b"\n\n; comment\n", "no sequence found"),
    (b"\xff\xfe>\x00c\x00", "UTF-16"),
])
def test_fasta_without_sequences(tmp_path, text, message):
    path = tmp_path / "bad.fa"
    path.write_bytes(text)
    with pytest.raises(InputError, match=message):
        Genome(path)


def test_utf8_byte_order_mark_and_utf8_descriptions_are_read(tmp_path):
    path = tmp_path / "bom.fa"
    path.write_bytes("\ufeff>chr1 µ-description\nACGT\nAC\n".encode())
    with Genome(path) as genome:
        assert genome.chrom_sizes == {"chr1": 6} and genome.fetch("chr1", 0, 6) == "ACGTAC"
        assert records_of(genome) == [Fai("chr1", 6, len("\ufeff>chr1 µ-description\n".encode()), 4, 5)]
        Path(str(path) + ".fai").write_text(fai_text(records_of(genome)))
    with Genome(path) as genome:
        assert genome.index_origin == "beside"  # the check of the first header steps over the mark


def test_pyfaidx_exceptions_never_reach_the_user(tmp_path, monkeypatch):
    """Biopython missing (pyfaidx: ImportError), a header pyfaidx cannot decode (UnicodeDecodeError)."""
    packed = write_bgzf(tmp_path / "g.fa.gz", b">chr1\nACGT\n")
    monkeypatch.setitem(sys.modules, "Bio", None)
    with pytest.raises(InputError, match="needs Biopython; install it"):
        Genome(packed)
    monkeypatch.undo()
    latin1 = tmp_path / "latin1.fa"
    latin1.write_bytes(b">chr1 caf\xe9\nACGT\n")
    with pytest.raises(InputError, match="a header line holds a byte that is not UTF-8 text \\(0xe9\\)"):
        Genome(latin1)


# ---------------------------------------------------------------------------------------- compression
def test_bgzip_reads_like_the_plain_file_across_blocks(tmp_path):
    rng = np.random.default_rng(3)
    records = random_records(rng, 4, 3000)
    data, expected = render(records, width=61, blank_between=1)
    plain = tmp_path / "g.fa"
    plain.write_bytes(data)
    packed = write_bgzf(tmp_path / "g.fa.gz", data, block=97)  # many small blocks: every fetch crosses some
    assert compression(str(packed)) == "bgzf" and compression(str(plain)) == "plain"
    with Genome(plain) as a, Genome(packed) as b:
        assert records_of(a) == records_of(b) == expected
        for name, sequence in records:
            for start in rng.integers(-5, len(sequence), 20).tolist():
                end = start + int(rng.integers(1, 400))
                assert b.fetch(name, start, end) == a.fetch(name, start, end)
            assert b.fetch(name, 0, len(sequence)) == sequence
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.fa", "g.fa.gz"]  # no .fai, no .gzi written


def test_bgzip_named_without_gz_is_read(tmp_path):
    """Detected by its bytes, not its name (pyfaidx decides by the name and reads such a file as text)."""
    path = write_bgzf(tmp_path / "genome.fa", b">chr1\nACGTACGT\nAC\n")
    with Genome(path) as genome:
        assert genome.fetch("chr1", 0, 10) == "ACGTACGTAC"
    text = tmp_path / "text.fa.gz"  # and text named .gz is read as text
    text.write_bytes(b">chr1\nACGTACGT\nAC\n")
    with Genome(text) as genome:
        assert genome.fetch("chr1", 0, 10) == "ACGTACGTAC"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["genome.fa", "text.fa.gz"]


def test_bgzip_with_its_fai_and_gzi_beside_is_used_as_it_is(tmp_path, caplog):
    """samtools faidx on a bgzip FASTA writes a .fai and a .gzi (pyfaidx writes the same two files)."""
    data, expected = render([("chr1", "ACGT" * 3000), ("chr2", "TTGA" * 2000)], width=60)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    write_bgzf(elsewhere / "g.fa.gz", data, block=1000)
    pyfaidx.Faidx(str(elsewhere / "g.fa.gz")).close()
    genome = tmp_path / "genome"
    genome.mkdir()
    for name in ("g.fa.gz", "g.fa.gz.fai", "g.fa.gz.gzi"):
        (genome / name).write_bytes((elsewhere / name).read_bytes())
    before = _snapshot(genome)
    with caplog.at_level(logging.INFO, logger="seqsal"), Genome(genome / "g.fa.gz") as opened:
        assert opened.index_origin == "beside" and records_of(opened) == expected
        assert opened.fetch("chr2", 7998, 8003) == "GANNN"
    assert _snapshot(genome) == before and not caplog.records


@pytest.mark.parametrize("fai, warned", [("virtual", False), ("stale", True)])
def test_bgzip_fai_without_gzi(tmp_path, caplog, fai, warned):
    """An older pyfaidx's .fai beside a bgzip file (BGZF virtual offsets, no .gzi; gReLU's test.fa.bgz): the index
    is built privately, the .fai only compared by names and lengths (a stale one reported), never rewritten."""
    data, expected = render([("chr1", "ACGT" * 30000), ("chr2", "TTGA" * 20)], width=60)
    path = write_bgzf(tmp_path / "g.fa.bgz", data, block=50000)
    with open(path, "rb") as handle:
        blocks = [(start, data_start) for start, _, data_start, _ in bgzf.BgzfBlocks(handle)]
    virtual = []
    for record in expected:
        cstart, ustart = [block for block in blocks if block[1] <= record.offset][-1]
        virtual.append(record._replace(offset=cstart << 16 | (record.offset - ustart)))
    assert virtual[1].offset != expected[1].offset
    if fai == "stale":
        virtual[0] = virtual[0]._replace(rlen=100)
    Path(str(path) + ".fai").write_text(fai_text(virtual))
    before = _snapshot(tmp_path)
    with caplog.at_level(logging.WARNING, logger="seqsal"), Genome(path) as genome:
        assert records_of(genome) == expected and genome.fetch("chr2", 0, 4) == "TTGA"
    assert _snapshot(tmp_path) == before
    assert bool(caplog.records) == warned and all("does not match" in r.getMessage() for r in caplog.records)


def test_plain_gzip_is_refused_with_the_command_that_converts_it(tmp_path):
    path = tmp_path / "g.fa.gz"
    path.write_bytes(gzip.compress(b">chr1\nACGT\n"))
    with pytest.raises(InputError) as info:
        Genome(path)
    assert "plain gzip" in str(info.value) and f"zcat {path} | bgzip > {tmp_path / 'g.fa.bgz'}" in str(info.value)


@pytest.mark.parametrize("magic, kind", [(b"BZh91AY", "bzip2"), (b"\xfd7zXZ\x00\x00", "xz"), (b"PK\x03\x04xx", "zip"),
                                         (b"\x28\xb5\x2f\xfdxx", "zstd")])
def test_other_compressions_are_refused(tmp_path, magic, kind):
    path = tmp_path / "g.fa.x"
    path.write_bytes(magic + bytes(40))
    with pytest.raises(InputError, match=f"compressed with {kind}"):
        Genome(path)


@pytest.mark.parametrize("cut", ["half", "eof_block"])
def test_truncated_bgzip_is_one_line(tmp_path, cut):
    data = write_bgzf(tmp_path / "g.fa.gz", b">chr1\n" + b"ACGT" * 5000 + b"\n", block=1000).read_bytes()
    path = tmp_path / "cut.fa.gz"
    path.write_bytes(data[:len(data) // 2] if cut == "half" else data[:-28])
    with pytest.raises(InputError, match="the bgzip file is truncated or corrupt"):
        Genome(path)


def test_bgzip_layout_pyfaidx_cannot_index_is_refused_with_the_fix(tmp_path):
    path = write_bgzf(tmp_path / "g.fa.gz", b">chr1\nACGT\n\n\n>chr2\nAC\n")
    with pytest.raises(InputError, match="pyfaidx cannot index this bgzip FASTA.*\\| bgzip > clean.fa.gz"):
        Genome(path)


# ------------------------------------------------------------------------------------ the .fai beside
def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_mtime_ns, p.stat().st_size) for p in folder.iterdir()}


def test_correct_fai_with_a_space_after_the_header_mark_is_used_as_it_is(tmp_path, caplog):
    """Issue 15 item 3: '> chr1' headers made every run declare the .fai stale, delete and rebuild it."""
    data, expected = render([("chr1", "ACGT" * 50), ("chr2", "TTGA" * 20)], width=80, header_space=True,
                            blank_between=1)
    path = tmp_path / "g.fa"
    path.write_bytes(data)
    Path(str(path) + ".fai").write_text(fai_text(expected))
    os.utime(path)  # a FASTA newer than its index: pyfaidx rebuilt on mtime alone
    before = _snapshot(tmp_path)
    with caplog.at_level(logging.INFO, logger="seqsal"), Genome(path) as genome:
        assert genome.index_origin == "beside" and genome.fetch("chr2", 0, 4) == "TTGA"
    assert _snapshot(tmp_path) == before and not caplog.records


@pytest.mark.parametrize("stale", ["lengths", "garbage", "columns", "negative", "empty"])
def test_stale_or_broken_fai_is_reported_and_never_rewritten(tmp_path, caplog, stale):
    data, expected = render([("chr1", "ACGT" * 50), ("chr2", "TTGA" * 20)], width=60)
    path = tmp_path / "g.fa"
    path.write_bytes(data)
    text = {"lengths": fai_text([expected[0]._replace(rlen=150), expected[1]._replace(offset=expected[1].offset - 20)]),
            "garbage": "not an index\n", "columns": "chr1\t200\n", "empty": "",
            "negative": fai_text([expected[0]._replace(lenc=-60), expected[1]])}[stale]
    Path(str(path) + ".fai").write_text(text)
    before = _snapshot(tmp_path)
    with caplog.at_level(logging.WARNING, logger="seqsal"), Genome(path) as genome:
        assert genome.index_origin == "built" and genome.chrom_sizes == {"chr1": 200, "chr2": 80}
    assert _snapshot(tmp_path) == before and Path(str(path) + ".fai").read_text() == text
    assert len(caplog.records) == 1 and "does not match" in caplog.records[0].getMessage()


def test_index_check_sees_a_rewrapped_fasta(tmp_path):
    records = [("chr1", "ACGT" * 50), ("chr2", "TTGA" * 20)]
    data, expected = render(records, width=60)
    path = tmp_path / "g.fa"
    path.write_bytes(data)
    index = {r.name: r for r in expected}
    assert index_matches_fasta(str(path), index)
    path.write_bytes(render(records, width=50)[0])
    assert not index_matches_fasta(str(path), index)


# ----------------------------------------------------------------------------------- the index cache
def test_large_genomes_keep_their_index_in_the_user_cache(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("SEQSAL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(genome_module, "CACHE_MIN_BYTES", 0)
    folder = tmp_path / "genome"
    folder.mkdir()
    data, expected = render([("chr1", "ACGT" * 500)], width=70)
    path = folder / "g.fa"
    path.write_bytes(data)
    with Genome(path) as genome:
        assert genome.index_origin == "built"
    entry = cached_index_path(str(path))
    assert entry.parent == tmp_path / "cache" / "fai" and entry.read_text() == fai_text(expected)
    assert [p.name for p in folder.iterdir()] == ["g.fa"] and [p.name for p in entry.parent.iterdir()] == [entry.name]
    with Genome(path) as genome:
        assert genome.index_origin == "cache"
    path.write_bytes(render([("chr1", "ACGT" * 400)], width=70)[0])  # edited in place: another key
    assert cached_index_path(str(path)) != entry
    with Genome(path) as genome:
        assert genome.index_origin == "built" and genome.chrom_sizes == {"chr1": 1600}
    cached_index_path(str(path)).write_text(fai_text(expected))  # an entry that does not fit is not trusted
    with Genome(path) as genome:
        assert genome.index_origin == "built" and genome.chrom_sizes == {"chr1": 1600}
    assert cached_index_path(str(path)).read_text().split("\t")[1] == "1600"


def test_bgzip_index_and_gzi_in_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQSAL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(genome_module, "CACHE_MIN_BYTES", 0)
    data, expected = render([("chr1", "ACGT" * 5000)], width=70)
    path = write_bgzf(tmp_path / "g.fa", data, block=500)  # and named .fa
    with Genome(path) as genome:
        assert genome.index_origin == "built"
    entry = cached_index_path(str(path))
    assert sorted(p.name for p in entry.parent.iterdir()) == [entry.name, entry.with_suffix(".gzi").name]
    with Genome(path) as genome:
        assert genome.index_origin == "cache" and records_of(genome) == expected
        assert genome.fetch("chr1", 19_997, 20_002) == "CGTNN"
    assert [p.name for p in tmp_path.iterdir() if p.is_file()] == ["g.fa"]


def test_unwritable_cache_falls_back_to_a_temporary_folder(tmp_path, monkeypatch, caplog):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    monkeypatch.setenv("SEQSAL_CACHE_DIR", str(blocker / "cache"))  # cannot be created: a file is in the way
    monkeypatch.setattr(genome_module, "CACHE_MIN_BYTES", 0)
    path = tmp_path / "g.fa"
    path.write_bytes(b">chr1\nACGT\n")
    with caplog.at_level(logging.INFO, logger="seqsal"), Genome(path) as genome:
        assert genome.fetch("chr1", 0, 4) == "ACGT"
    assert "not writable" in caplog.text and sorted(p.name for p in tmp_path.iterdir()) == ["a_file", "g.fa"]


def _open_and_fetch(path: str) -> str:
    with Genome(path) as genome:
        return genome.fetch("chr7", 1000, 1010) + genome.index_origin


def test_shards_opening_one_genome_at_once_race_free(tmp_path, monkeypatch):
    """Eight processes open a genome with an empty cache at once: all read it, one whole cache entry remains."""
    monkeypatch.setenv("SEQSAL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(genome_module, "CACHE_MIN_BYTES", 0)
    rng = np.random.default_rng(1)
    records = [(f"chr{k}", "".join(rng.choice(list("ACGT"), 20_000))) for k in range(1, 9)]
    data, expected = render(records, width=60)
    folder = tmp_path / "genome"
    folder.mkdir()
    path = folder / "g.fa"
    path.write_bytes(data)
    path.chmod(0o444)
    folder.chmod(0o555)  # a read-only genome folder
    try:
        with ProcessPoolExecutor(8) as pool:
            results = list(pool.map(_open_and_fetch, [str(path)] * 8))
    finally:
        folder.chmod(0o755)
    assert [p.name for p in folder.iterdir()] == ["g.fa"]
    assert {r[:10] for r in results} == {records[6][1][1000:1010]}
    entries = list((tmp_path / "cache" / "fai").iterdir())
    assert [p.name for p in entries] == [cached_index_path(str(path)).name]  # no temporary file left
    assert entries[0].read_text() == fai_text(expected)


# ---------------------------------------------------------------------------------- unknown letters
def test_unknown_letter_stops_only_the_windows_that_reach_it(tmp_path):
    path = tmp_path / "g.fa"
    path.write_bytes(b">chr1\n" + b"ACGTACGTAC\n" * 5 + b">chr5\nACGTACGTAC\nACGTAZGTAC\nACGTACGTAC\n")
    with Genome(path) as genome:
        assert genome.fetch("chr5", 20, 30) == "ACGTACGTAC"
        with pytest.raises(InputError) as info:
            genome.fetch("chr5", 0, 16)
    assert str(info.value).startswith(f"{path}:9: character 'Z' at chr5:15 (0-based) is not an IUPAC DNA code")
    assert 'unknown_bases="n"' in str(info.value)


def test_unknown_letters_read_as_n_with_one_summary_line(tmp_path, caplog):
    path = tmp_path / "g.fa"
    path.write_bytes(b">chr5\nACGTACGTAC\nACGTAZGTAC\nACGTAC*TAC\n")
    with caplog.at_level(logging.WARNING, logger="seqsal"):
        genome = Genome(path, unknown_bases="n")
        assert genome.fetch("chr5", 10, 30) == "ACGTANGTACACGTACNTAC"
        assert genome.fetch("chr5", 14, 16) == "AN"  # the same Z again: counted once
        assert not caplog.records
        genome.close()
    assert len(caplog.records) == 1
    assert "read 2 characters that are not an IUPAC DNA code as N (e.g. 'Z' at chr5:15" in caplog.text


def test_bytes_that_are_not_text_stop_under_either_policy(tmp_path):
    path = tmp_path / "g.fa"
    path.write_bytes(b">chr1\nACGTACGT\nACGTACGT\n")
    Path(str(path) + ".fai").write_text(fai_text([Fai("chr1", 16, 6, 8, 9)]))
    path.write_bytes(b">chr1\nACGTACGT\nACG\xffACGT\n")  # after indexing: only a fetch can see it
    for policy in ("error", "n"):
        with Genome(path, unknown_bases=policy) as genome, pytest.raises(InputError, match="not text \\(0xff"):
            genome.fetch("chr1", 8, 16)


def test_unknown_policy_is_checked():
    with pytest.raises(InputError, match="^unknown unknown_bases 'ignore'") as error:  # the API's keyword
        Genome("whatever.fa", unknown_bases="ignore")
    assert error.value.cli_message().startswith("unknown --unknown-bases 'ignore'")  # the CLI's flag
