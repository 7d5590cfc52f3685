"""What two reports of one event name alike in any language: places, actors, weapons and counts,
each read as one canonical English name.

An Arabic report of the drone attack on Ain al-Asad says «عين الأسد», «الحشد الشعبي»,
«طائرة مسيرة», «خمسة»; the English one says "Ain al-Asad", "PMF", "drone", "five". Story
linking across languages compares these canonical names and numbers, which survive
translation, where the English story rule compares capitalised words, which do not
(bot/relevance/stories.py, bot/relevance/stories_across.py).

Spellings match as facet terms do (bot/core/facets.py, bot/core/arabic_terms.py): Latin from the
start of a word, case-insensitively; Arabic script with attached و/ب/ل/ال, hamza, yeh/kaf and
zero-width non-joiner variants. Places are the sites, towns and countries of the region's
reporting; "kind" names the weapon or act, which tells a drone attack from a rocket attack.
"""

from __future__ import annotations

import re
from functools import cache

from bot.core.facets import Facet

LEAD_CHARS = 1500  # names and numbers are read from the headline and this much of the opening

# canonical name → (kind, spellings). Kinds: "site" (a base or a town: two reports naming
# different sites are of different events), "area" (a country or province), "actor", "weapon".
NAMES: dict[str, tuple[str, tuple[str, ...]]] = {
    # --- sites ---
    "Ain al-Asad": (
        "site",
        (
            "ain al-asad",
            "ain al-assad",
            "ayn al-asad",
            "al-asad air",
            "al-assad air",
            "asad air",
            "عين الأسد",
            "عين الاسد",
            "عین الاسد",
        ),
    ),
    "al-Tanf": ("site", ("tanf", "التنف")),
    "Tower 22": ("site", ("tower 22", "البرج 22", "برج 22")),
    "Harir": ("site", ("harir", "حرير", "حریر")),
    "Erbil": ("site", ("erbil", "irbil", "arbil", "أربيل", "اربیل")),
    "Baghdad": ("site", ("baghdad", "بغداد")),
    "Green Zone": ("site", ("green zone", "المنطقة الخضراء", "منطقه سبز")),
    "Kirkuk": ("site", ("kirkuk", "k-1", "كركوك", "کرکوک", "كي وان", "كي 1")),
    "Conoco": ("site", ("conoco", "كونيكو", "كونوكو", "کونیکو")),
    "Green Village": ("site", ("green village", "القرية الخضراء")),
    "Taji": ("site", ("taji", "التاجي")),
    "Besmaya": ("site", ("besmaya", "بسماية")),
    "Victory": ("site", ("victory base", "camp victory", "فيكتوري", "فكتوري")),
    "Deir ez-Zor": (
        "site",
        (
            "deir ez",
            "deir al-z",
            "deir el-z",
            "deir ezzor",
            "deir-ez",
            "دير الزور",
            "دیرالزور",
            "دیر الزور",
        ),
    ),
    "Hasakah": ("site", ("hasakah", "hasaka", "hassakeh", "الحسكة", "حسکه")),
    "Shaddadi": ("site", ("shaddadi", "الشدادي", "شدادی")),
    "Rumalyn": (
        "site",
        (
            "rumalyn",
            "rmelan",
            "rumeilan",
            "kharab al-jir",
            "kharab al jir",
            "رميلان",
            "خراب الجير",
            "رمیلان",
        ),
    ),
    "al-Omar": ("site", ("al-omar", "omar oil", "حقل العمر")),
    "Babil": ("site", ("babil", "babylon", "بابل")),
    "Jurf al-Sakhar": ("site", ("jurf al", "جرف الصخر", "جرف النصر")),
    "Musayib": ("site", ("musayib", "musayyib", "المسيب", "مسیب")),
    # «القائم» alone is also "the one in charge" («القائم بالأعمال»)
    "al-Qaim": ("site", ("al-qaim", "al qaim", "قضاء القائم", "مدينة القائم", "منطقة القائم")),
    "Bukamal": ("site", ("bukamal", "albu kamal", "abu kamal", "البوكمال", "البوکمال")),
    "Damascus": ("site", ("damascus", "دمشق")),
    "Kerman": ("site", ("kerman", "كرمان", "کرمان")),
    "Zakho": ("site", ("zakho", "زاخو")),
    "Duhok": ("site", ("duhok", "dohuk", "دهوك", "دهوک")),
    "Sulaymaniyah": ("site", ("sulaymaniyah", "sulaimani", "السليمانية", "سلیمانیه")),
    # «العديد» alone is also "many" («العديد من»): only with the base around it
    "Al Udeid": (
        "site",
        ("al udeid", "al-udeid", "قاعدة العديد", "العديد الجوية", "پایگاه العدید"),
    ),
    "Qamishli": ("site", ("qamishli", "القامشلي", "قامشلی")),
    "Amuda": ("site", ("amuda", "عامودا", "عاموده")),
    "Eilat": ("site", ("eilat", "إيلات", "ایلات")),
    "Raqqa": ("site", ("raqqa", "الرقة", "رقه")),
    "Mosul": ("site", ("mosul", "الموصل", "موصل")),
    "Basra": ("site", ("basra", "البصرة", "بصره")),
    "Beirut": ("site", ("beirut", "بيروت", "بیروت")),
    "Idlib": ("site", ("idlib", "إدلب", "ادلب")),
    "Hormuz": ("site", ("hormuz", "هرمز")),
    # --- areas ---
    "Iraq": ("area", ("iraq", "العراق", "عراق")),
    "Syria": ("area", ("syria", "سوريا", "سورية", "سوریه")),
    "Jordan": ("area", ("jordan", "الأردن", "اردن")),
    "Anbar": ("area", ("anbar", "الأنبار", "انبار")),
    "Kurdistan": ("area", ("kurdistan", "كردستان", "کردستان")),
    "Iran": ("area", ("iran", "إيران", "ایران")),
    "Israel": ("area", ("israel", "إسرائيل", "اسرائیل")),
    "Lebanon": ("area", ("lebanon", "لبنان")),
    "Yemen": ("area", ("yemen", "اليمن", "یمن")),
    "Red Sea": ("area", ("red sea", "البحر الأحمر", "دریای سرخ")),
    "Qatar": ("area", ("qatar", "قطر")),
    "Turkey": ("area", ("turkey", "turkish", "turkiye", "türkiye", "تركيا", "التركي", "ترکیه")),
    # --- actors ---
    "Kataib Hezbollah": (
        "actor",
        (
            "kataib hezbollah",
            "kata'ib hezbollah",
            "kataeb hezbollah",
            "kataib hizbollah",
            "kata'ib hizbollah",
            "كتائب حزب الله",
            "کتائب حزب الله",
        ),
    ),
    "Hezbollah": ("actor", ("hezbollah", "hizbollah", "hizballah", "حزب الله")),
    "Nujaba": ("actor", ("nujaba", "النجباء", "نجباء")),
    "Asaib Ahl al-Haq": ("actor", ("asa'ib", "asaib", "ahl al-haq", "عصائب")),
    "Islamic Resistance": ("actor", ("islamic resistance", "المقاومة الإسلامية", "مقاومت اسلامی")),
    "PMF": ("actor", ("pmf", "pmu", "popular mobili", "hashd", "الحشد", "حشد الشعبی", "حشد شعبی")),
    "IRGC": ("actor", ("irgc", "revolutionary guard", "الحرس الثوري", "سپاه")),
    "Quds Force": ("actor", ("quds force", "فيلق القدس", "نیروی قدس")),
    "ISIS": (
        "actor",
        ("isis", "isil", "islamic state", "daesh", "داعش", "الدولة الإسلامية", "تنظيم الدولة"),
    ),
    "Houthis": ("actor", ("houthi", "الحوثي", "حوثی", "أنصار الله")),
    "SDF": ("actor", ("sdf", "syrian democratic forces", "قسد", "قوات سوريا الديمقراطية")),
    "PKK": ("actor", ("pkk", "حزب العمال", "پ ک ک")),
    "Peshmerga": ("actor", ("peshmerga", "البيشمركة", "پیشمرگ")),
    "Soleimani": ("actor", ("soleimani", "suleimani", "سليماني", "سلیمانی")),
    "Nasrallah": ("actor", ("nasrallah", "نصر الله", "نصرالله")),
    "Raisi": ("actor", ("raisi", "رئيسي", "رئیسی")),
    "Sadr": ("actor", ("sadr", "مقتدى الصدر", "التيار الصدري", "الصدريين", "مقتدی صدر")),
    "Mossad": ("actor", ("mossad", "الموساد", "موساد")),
    # --- weapons and acts ---
    "drone": (
        "weapon",
        # (the Persian «درون» is "inside" far more often than "drone")
        ("drone", "uav", "unmanned", "مسيرة", "مسيّرة", "طائرة مسير", "پهپاد"),
    ),
    "rocket": (
        "weapon",
        ("rocket", "katyusha", "missile", "صاروخ", "صواريخ", "كاتيوشا", "راکت", "موشک", "کاتیوشا"),
    ),
    "mortar": ("weapon", ("mortar", "هاون", "خمپاره")),
    "airstrike": (
        "weapon",
        ("airstrike", "air strike", "warplane", "غارة", "غارات", "حمله هوایی", "بمباران", "جنگنده"),
    ),
}

# digits of the Arabic and Persian scripts, read as ASCII ones
_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
_NUMBER = re.compile(r"(?<![\d.,/:])\d{1,3}(?!\d)(?![.,/:]\d)")
# small counts written as words: what a report of one attack counts (soldiers hurt, drones,
# rockets); "one" and "a" are everywhere, so counting starts at two
_NUMBER_WORDS: dict[int, tuple[str, ...]] = {
    2: ("two", "اثنين", "اثنان", "اثنتين", "صاروخين", "مسيرتين", "طائرتين", "دو"),
    3: ("three", "ثلاثة", "ثلاث", "سه"),
    4: ("four", "أربعة", "أربع", "چهار"),
    5: ("five", "خمسة", "خمس", "پنج"),
    6: ("six", "ستة", "شش"),
    7: ("seven", "سبعة", "هفت"),
    8: ("eight", "ثمانية", "هشت"),
    9: ("nine", "تسعة"),  # Persian «نه» is also "not", «ده» "village"
    10: ("ten", "عشرة"),
}


@cache
def _facets() -> tuple[Facet, ...]:
    return tuple(Facet(name, "support", terms) for name, (_, terms) in NAMES.items())


@cache
def _number_facets() -> tuple[tuple[int, re.Pattern[str]], ...]:
    out = []
    for value, words in _NUMBER_WORDS.items():
        # a number word is a whole word (the Persian «نه» is also "no", «ده» "village": rare
        # in a lead, and a count must still be shared by the other report to count)
        pattern = Facet(str(value), "support", words).pattern.pattern + r"(?![\w])"
        out.append((value, re.compile(pattern, re.IGNORECASE)))
    return tuple(out)


def lead(title: str, text: str) -> str:
    return f"{title}.\n{text[:LEAD_CHARS]}"


def names_in(title: str, text: str) -> frozenset[str]:
    """The canonical names the headline and opening mention."""
    opening = lead(title, text)
    return frozenset(f.name for f in _facets() if f.pattern.search(opening))


def numbers_in(title: str, text: str) -> frozenset[int]:
    """Counts the headline and opening state (2-999, digits in any script or small number
    words); years, dates, times and decimals are not counts."""
    opening = lead(title, text).translate(_DIGITS)
    found = {int(m.group(0)) for m in _NUMBER.finditer(opening)}
    found |= {value for value, pattern in _number_facets() if pattern.search(opening)}
    return frozenset(n for n in found if 2 <= n <= 999)


def kind(name: str) -> str:
    return NAMES[name][0]
