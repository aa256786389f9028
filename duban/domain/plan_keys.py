"""A plan's key is its document number (文号) as printed — ``珠府办〔2025〕5号`` — or
its title. Offices print the year of the same 文号 in several brackets (〔〕, (), （）,
[], 【】), and earlier versions of duban stored them as (); :func:`key_variants`
lists the spellings that name the same document, so a lookup by the key a user types,
or a re-import of a plan stored under an older spelling, finds the plan."""

from __future__ import annotations

import re

_YEAR_IN_BRACKETS = re.compile(r"[〔\[(（【［](?P<year>\s*(?:19|20)\d{2}\s*)[〕\])）】］]")
_STYLES = (("〔", "〕"), ("(", ")"), ("（", "）"), ("[", "]"), ("【", "】"), ("［", "］"))


def key_variants(key: str) -> list[str]:
    """``key`` first, then the same key with the year's brackets in every other style;
    only ``key`` when it has no bracketed year (a title, 珠委办201423)."""
    match = _YEAR_IN_BRACKETS.search(key)
    if match is None:
        return [key]
    variants = [key]
    for opening, closing in _STYLES:
        year = f"{opening}{match.group('year')}{closing}"
        variant = key[: match.start()] + year + key[match.end() :]
        if variant not in variants:
            variants.append(variant)
    return variants
