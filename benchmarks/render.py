"""Assemble benchmarks/RESULTS.md from the per-benchmark sections in benchmarks/results/*.md."""

from pathlib import Path

HERE = Path(__file__).parent
ORDER = ["random_overhead", "tpe_quality", "tpe_quality_sklearn", "tpe_overhead", "stores_scaling", "stores_mongo_ops",
         "stores_hyperopt_mongo", "nas_digits", "nas_digits_kt_bayes3"]


def render():
    sections = {p.stem: p.read_text() for p in sorted((HERE / "results").glob("*.md"))}
    names = [n for n in ORDER if n in sections] + sorted(set(sections) - set(ORDER))
    # A section that brings its own heading keeps it; the others are headed by their name.
    body = "\n\n".join(
        sections[name].strip() if sections[name].lstrip().startswith("## ")
        else f"## {name}\n\n{sections[name].strip()}"
        for name in names
    )
    (HERE / "RESULTS.md").write_text(
        "# Benchmark results\n\nEach section was produced by the command it starts with, run from "
        "the repository root inside the benchmark environment (`bash benchmarks/setup_env.sh`). "
        "Machine: 2 CPU cores, no GPU.\n\n" + body + "\n"
    )


if __name__ == "__main__":
    render()
