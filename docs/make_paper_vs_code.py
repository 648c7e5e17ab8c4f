"""Write docs/paper_vs_code.md and the README's paper-vs-code summary from ``gconet_lab.studies.paper_vs_code``.

    python docs/make_paper_vs_code.py           # rewrite both
    python docs/make_paper_vs_code.py --check   # exit 1, naming them, if either is stale
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gconet_lab.studies.paper_vs_code import render_markdown, render_readme_summary  # noqa: E402

DOC = ROOT / "docs" / "paper_vs_code.md"
README = ROOT / "README.md"
BEGIN, END = "<!-- paper-vs-code: begin (generated) -->", "<!-- paper-vs-code: end -->"


def readme_with_summary(readme: str) -> str:
    """``readme`` with the text between the two markers replaced by the generated summary."""
    if readme.count(BEGIN) != 1 or readme.count(END) != 1:
        raise ValueError(f"README.md needs exactly one {BEGIN!r} and one {END!r}")
    before, rest = readme.split(BEGIN)
    _, after = rest.split(END)
    return f"{before}{BEGIN}\n{render_readme_summary()}{END}{after}"


def generated() -> dict[Path, str]:
    return {DOC: render_markdown(), README: readme_with_summary(README.read_text())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale files")
    args = parser.parse_args(argv)
    stale = [path for path, text in generated().items() if not path.exists() or path.read_text() != text]
    for path in stale:
        if not args.check:
            path.write_text(generated()[path])
        print(f"{'stale' if args.check else 'wrote'} {path.relative_to(ROOT)}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
