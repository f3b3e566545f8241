"""An :class:`~seqsal.errors.InputError` raised where the notebook API can reach it names options with
:func:`seqsal.errors.option`, never a hard-coded ``--flag``: ``str(error)`` spells the keyword the caller passed
(``precision``, ``fmt``), ``error.cli_message()`` (what ``seqsal`` prints) the command-line flag."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

import seqsal
from seqsal.cli import main
from seqsal.errors import InputError
from seqsal.train_options import TrainOptions, check_options

PACKAGE = Path(seqsal.__file__).parent
CLI_MODULES = {"cli.py", "cli_common.py", "cli_train.py"}  # click commands: their messages are for the CLI only
FLAG = re.compile(r"(?<![\w-])--(?:[a-z]|\{)")  # --flag, or --{name} formatted in

# Flags left in InputError messages on purpose: (module, the text that holds the flag). Each is advice about
# the command line itself, not an option of the call that raised the error.
ALLOWED = {
    # how the earlier `seqsal attribute` run was made, and what to rerun it with: another command's flags
    ("peaks/runfolder.py", "(it ran with --null laplace or --no-peaks)"),
    ("peaks/runfolder.py", "rerun `seqsal attribute` with --null shuffle"),
    ("shards.py", "merge the folders of `seqsal attribute --shard i/N` runs"),
    # `seqsal relocate` spelled out as the command to run (the API's relocate_run is named in its docs)
    ("evaluate_inputs.py", "`seqsal relocate RUN_FOLDER --{...}"),
    ("run_genome.py", "`seqsal relocate RUN_FOLDER --genome ORIGINAL`"),
    # "rerun `seqsal attribute` with --force": the run folder was edited; the advice is to redo the CLI run
    ("evaluate_inputs.py", "rerun `seqsal attribute` with --force"),
    ("run_genome.py", "rerun `seqsal attribute` with --force"),
    ("tables.py", "rerun `seqsal attribute` with --force"),
    ("runlock.py", "rerun `seqsal attribute` with --force"),
    ("runlock.py", "the same `seqsal attribute` command plus --resume"),
    # parse_shard reads the CLI's "i/N" text; the API takes shard=(i, N) and never calls it
    ("shards.py", "--shard "),
    # messages that already give both spellings: "--method ism (API: method='ism')"
    ("attribution.py", "use --method ism (API: method='ism')"),
    ("attribution.py", "use --method ism or deepshap (API: method=...)"),
    # pyjaspar's query: the API takes a JasparQuery (collection, tax_group), not these keywords
    ("motifs/jaspar.py", "check --jaspar-collection and --jaspar-tax-group"),
}


def _texts(node: ast.AST):
    """The string constants of ``node``: literals, implicitly joined literals, the literal parts of f-strings."""
    for child in ast.walk(node):
        if isinstance(child, ast.Constant) and isinstance(child.value, str):
            yield child.value
        elif isinstance(child, ast.JoinedStr):  # "--{name}": a flag whose name is formatted in
            for part, after in zip(child.values, child.values[1:]):
                if isinstance(part, ast.Constant) and isinstance(after, ast.FormattedValue) \
                        and re.search(r"(?<![\w-])--$", str(part.value)):
                    yield part.value + "{...}"


def hard_coded_flags() -> tuple[list[str], set[tuple[str, str]]]:
    """The messages that name a ``--flag``, and the :data:`ALLOWED` entries that matched."""
    found, used = [], set()
    for path in sorted(PACKAGE.rglob("*.py")):
        module = path.relative_to(PACKAGE).as_posix()
        if module in CLI_MODULES:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            func = node.func if isinstance(node, ast.Call) else None
            if getattr(func, "id", getattr(func, "attr", None)) != "InputError":
                continue
            for text in _texts(node):
                for entry in sorted(ALLOWED, key=lambda entry: -len(entry[1])):  # the longest text first
                    if entry[0] == module and entry[1] in text:
                        text = text.replace(entry[1], "")
                        used.add(entry)
                if FLAG.search(text):
                    found.append(f"{module}:{node.lineno}: {text.strip()[:100]!r}")
    return found, used


def test_scan_finds_flags_in_every_form_of_string():
    tree = ast.parse('InputError("a " "--b")\nInputError(f"x {y} --c")\nInputError(f"--{name}: d")\n'
                     'InputError(f"{option(\'e\')} 1")\nInputError(f"{a} -- {b}")')
    assert [any(FLAG.search(t) for t in _texts(node)) for node in tree.body] == [True, True, True, False, False]


def test_no_hard_coded_flags_in_api_reachable_messages():
    found, used = hard_coded_flags()
    assert not found, ("InputError messages outside the click commands name --flags; write them with "
                       "seqsal.errors.option(keyword[, value]):\n" + "\n".join(found))
    assert used == ALLOWED, f"allowed flags no message holds any more (drop them): {sorted(ALLOWED - used)}"


@pytest.mark.parametrize("field, value, api, cli", [
    ("precision", "x", "unknown precision 'x'", "unknown --precision 'x'"),
    ("fourier_positives", 1.5, "fourier_positives=1.5: give a quantile", "--fourier-positives 1.5: give a quantile"),
    ("mask_weight", float("nan"), "mask_weight=nan: give a finite number", "--mask-prior nan: give a finite number"),
])
def test_train_options_name_their_fields(field, value, api, cli):
    with pytest.raises(InputError) as error:
        check_options(TrainOptions(valid_chroms=["chr2"], **{field: value}))
    assert api in str(error.value) and "--" not in str(error.value), str(error.value)
    assert cli in error.value.cli_message(), error.value.cli_message()


def test_train_model_names_the_keyword(tmp_path):
    with pytest.raises(InputError) as error:  # the options are checked before any file is read
        seqsal.train_model(tmp_path / "genome.fa", tmp_path / "labels.bed", tmp_path / "m.safetensors",
                           TrainOptions(valid_chroms=["chr2"], precision="fp8"))
    assert "unknown precision 'fp8'" in str(error.value) and "--" not in str(error.value), str(error.value)
    assert "unknown --precision 'fp8'" in error.value.cli_message()


def test_write_logos_names_fmt_and_the_cli_names_format(tmp_path):
    with pytest.raises(InputError) as error:
        seqsal.write_logos(tmp_path, fmt="gif")
    assert str(error.value).startswith("fmt 'gif': choose one of"), str(error.value)
    assert error.value.cli_message().startswith("--format 'gif': choose one of"), error.value.cli_message()
    result = CliRunner().invoke(main, ["logos", str(tmp_path), "--format", "gif"])
    assert result.exit_code == 2 and "--format" in result.output and "fmt" not in result.output, result.output
