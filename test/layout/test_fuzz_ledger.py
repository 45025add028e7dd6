"""The fuzz campaign's figures in the README are the ledger's: the table
under "Fed garbage" must be what `bench/fuzz_campaign.sh --report` sums from
test/fuzz/campaign.tsv (a crashes cell may explain its number after a
comma), so a campaign run recorded without the README, or a hand-edited
figure, fails here. And the report sums what it should."""
import pathlib
import re
import shutil
import subprocess

ROOT = pathlib.Path(__file__).resolve().parents[2]
HEADER = "| Target | executions | hours | exec/s (best run) | crashes |"


def report(root):
    return subprocess.run(["bash", "bench/fuzz_campaign.sh", "--report"],
                          cwd=root, capture_output=True, text=True,
                          check=True).stdout.splitlines()


def readme_table():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert lines.count(HEADER) == 1, "one campaign table in the README"
    i = lines.index(HEADER)
    table = []
    for line in lines[i:]:
        if not line.startswith("|"):
            break
        table.append(line)
    return table


def bare(row):
    """A row with the explanation after a crashes count left out."""
    return re.sub(r"\| (\d+), [^|]*\|$", r"| \1 |", row)


def test_readme_table_is_the_ledgers():
    assert [bare(r) for r in readme_table()] == report(ROOT)


def test_report_sums_each_target(tmp_path):
    (tmp_path / "bench").mkdir()
    shutil.copy(ROOT / "bench/fuzz_campaign.sh", tmp_path / "bench")
    fuzz = tmp_path / "test/fuzz"
    fuzz.mkdir(parents=True)
    shutil.copy(ROOT / "test/fuzz/lib.sh", fuzz)
    for t in ("fuzz_b", "fuzz_a"):
        (fuzz / f"{t}.cpp").touch()
    assert subprocess.run(["bash", "bench/fuzz_campaign.sh", "--report"],
                          cwd=tmp_path, capture_output=True).returncode == 1
    (fuzz / "campaign.tsv").write_text(
        "date\ttarget\texecutions\tseconds\texec_per_s\tcov\tcrashes\tcommit\n"
        "d\tfuzz_b\t1234567\t3600\t342\t10\t0\tc\n"
        "d\tfuzz_b\t8765433\t3600\t2434\t12\t1\tc\n"
        "d\tfuzz_gone\t5\t1\t5\t1\t0\tc\n")
    assert report(tmp_path) == [
        HEADER,
        "|---|---:|---:|---:|---:|",
        "| `fuzz_a` | 0 | 0.00 | 0 | 0 |",
        "| `fuzz_b` | 10,000,000 | 2.00 | 2,434 | 1 |",
    ]
