"""``endcap generate`` as a command: files, progress and the summary table."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from endcap.synthetic.command import generate_command


def test_command_writes_files_and_prints_a_summary(tmp_path: Path) -> None:
    out = tmp_path / "retailer"
    result = CliRunner().invoke(
        generate_command,
        ["--profiles", "1500", "--seed", "3", "--format", "ndjson", "--weeks", "13", str(out)],
    )
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "consents.ndjson",
        "customers.ndjson",
        "identifiers.ndjson",
        "products.ndjson",
        "stores.ndjson",
        "transactions.ndjson",
    ]
    assert "transactions.ndjson" in result.output
    assert "1,500 profiles" in result.output
    lines = (out / "transactions.ndjson").read_text().count("\n")
    assert 1500 * 30 * 13 / 52 * 0.8 < lines < 1500 * 30 * 13 / 52 * 1.2


def test_command_rejects_bad_arguments(tmp_path: Path) -> None:
    runner = CliRunner()
    assert (
        runner.invoke(generate_command, ["--profiles", "0", "--seed", "1", str(tmp_path)]).exit_code
        == 2
    )
    assert (
        runner.invoke(
            generate_command, ["--profiles", "10", "--seed", "1", "--format", "xml", str(tmp_path)]
        ).exit_code
        == 2
    )
