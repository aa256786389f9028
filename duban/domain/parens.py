"""Parentheses in plan text (normalised: full-width brackets are already ``()``)."""

from __future__ import annotations


def paren_groups(text: str) -> list[tuple[str, int, int]]:
    """Top-level ``(...)`` groups as (content, start, end-exclusive)."""
    groups: list[tuple[str, int, int]] = []
    depth, start = 0, -1
    for index, char in enumerate(text):
        if char == "(":
            if depth == 0:
                start = index
            depth += 1
        elif char == ")" and depth:
            depth -= 1
            if depth == 0:
                groups.append((text[start + 1 : index], start, index + 1))
    return groups


def split_outside_parens(text: str, separators: str) -> list[tuple[str, str]]:
    """``text`` cut at ``separators`` outside parentheses: (piece, separator before it)."""
    parts: list[tuple[str, str]] = []
    depth, start, sep = 0, 0, ""
    for index, char in enumerate(text):
        if char == "(":
            depth += 1
        elif char == ")":
            depth = max(0, depth - 1)
        elif depth == 0 and char in separators:
            parts.append((text[start:index], sep))
            start, sep = index + 1, char
    parts.append((text[start:], sep))
    return parts


def unwrap(text: str) -> str:
    """Remove one pair of parentheses enclosing the whole text (not a name's own)."""
    groups = paren_groups(text)
    if groups and groups[0][1] == 0 and groups[0][2] == len(text):
        return text[1:-1].strip()
    return text
