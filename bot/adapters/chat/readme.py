"""`python -m bot.adapters.chat.readme`: rewrite the README's chat command table from the command table."""

from __future__ import annotations

from pathlib import Path

from bot.adapters.chat.commands import readme_section

START, END = "<!-- commands:start -->\n", "<!-- commands:end -->"
README = Path(__file__).resolve().parents[3] / "README.md"


def main() -> None:
    text = README.read_text(encoding="utf-8")
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    README.write_text(head + START + readme_section() + END + tail, encoding="utf-8")


if __name__ == "__main__":
    main()
