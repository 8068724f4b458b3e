"""Write the figures of a `make soak` run into docs/reliability.md (between markers).

Usage: python scripts/reliability_report.py FIGURES.jsonl docs/reliability.md "COMMAND"
The figures come from tests/integration/reliability (see figures.py); nothing is typed by hand.
"""

from __future__ import annotations

import datetime as dt
import json
import platform
import subprocess
import sys
from pathlib import Path

START = "<!-- soak-figures:start -->"
END = "<!-- soak-figures:end -->"


def main(figures_path: str, doc_path: str, command: str) -> int:
    lines = [json.loads(line) for line in Path(figures_path).read_text().splitlines() if line]
    if not lines:
        print("no figures recorded: did the soak tests run?", file=sys.stderr)
        return 1
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    keys: list[str] = []
    for line in lines:
        keys.extend(k for k in line if k not in ("test", "at") and k not in keys)
    header = "| test | " + " | ".join(keys) + " |"
    rule = "|---" * (len(keys) + 1) + "|"
    rows = [
        "| " + line["test"] + " | " + " | ".join(str(line.get(k, "")) for k in keys) + " |"
        for line in sorted(lines, key=lambda item: item["test"])
    ]
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    block = "\n".join(
        [
            START,
            f"Run {when}, commit `{commit or 'unknown'}`, {platform.machine()} "
            f"{platform.python_implementation()} {platform.python_version()}, "
            f"command `{command}`.",
            "",
            header,
            rule,
            *rows,
            END,
        ]
    )
    doc = Path(doc_path)
    text = doc.read_text()
    if START not in text or END not in text:
        print(f"{doc}: figure markers missing", file=sys.stderr)
        return 1
    before, _, rest = text.partition(START)
    _, _, after = rest.partition(END)
    doc.write_text(before + block + after)
    print(f"wrote {len(rows)} rows into {doc}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(*sys.argv[1:]))
