"""Facet terms written in Arabic script (Arabic, Persian): how they match running text.

Latin terms match case-insensitively from the start of a word. Arabic script has no case, but:
- conjunctions, prepositions and the article attach to the word: «والقوات», «بالقاعدة»,
  «للقوات» (ل + القوات) all hold «قوات»; a term therefore also matches after up to two of
  و ف ب ل ك and an optional ال;
- one letter has several spellings: hamza seats («أمريكية» / «امريكية»), Arabic or Persian
  yeh and kaf («آمريكا» / «آمریکا»), teh marbuta or heh at a word's end; each matches the others;
- Persian puts a zero-width non-joiner inside words («پایگاه‌های») or leaves it out
  («پایگاههای»): it may stand between any two letters.
``*`` stands for any word characters, a space for a space, a hyphen or nothing, as in Latin terms.
"""

from __future__ import annotations

import re

# the Arabic script's blocks: the letters, clitics and variants below all lie in them
ARABIC_SCRIPT_CLASS = "\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff"
_ARABIC_SCRIPT = re.compile(f"[{ARABIC_SCRIPT_CLASS}]")
_CLITICS = "(?:[وفبلك]{0,2}(?:ال)?)?"
_ZWNJ = "\u200c?"
_VARIANTS = {
    **dict.fromkeys("اأإآٱ", "[اأإآٱ]"),
    **dict.fromkeys("يیىئ", "[يیىئ]"),
    **dict.fromkeys("كک", "[كک]"),
    **dict.fromkeys("ةه", "[ةه]"),
    **dict.fromkeys("ؤو", "[ؤو]"),
}


def is_arabic_script(term: str) -> bool:
    return _ARABIC_SCRIPT.search(term) is not None


def arabic_term_regex(term: str) -> str:
    """The regular expression an Arabic-script term matches with (see the module's notes)."""
    out = [_CLITICS]
    for ch in term:
        if ch == "*":
            out.append("[\\w\u200c]*")
        elif ch in "- ":
            out.append(r"[\s\-\u200c]?")
        elif ch == "\u200c":
            continue
        else:
            out.append(_VARIANTS.get(ch, re.escape(ch)) + _ZWNJ)
    return "".join(out)
