"""Group contexts that share a token prefix, so the prefix is computed once per group.

Control and treatment prompts of a pair (and prompts of the same scenario and phrasing)
start with the same tokens; sorting contexts lexicographically puts them next to each other.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PrefixGroup:
    prefix_len: int
    members: tuple[int, ...]
    """Indices into the caller's list of contexts."""


def _common(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def prefix_groups(contexts: dict[int, list[int]], min_shared: int = 16, max_members: int = 8
                  ) -> list[PrefixGroup]:
    """Groups of up to `max_members` contexts sharing at least `min_shared` leading tokens.

    Every member keeps at least one token after the prefix (its answer position). Contexts
    that share too little form groups of one, whose prefix is all but their last token.
    """
    order = sorted(contexts, key=lambda i: contexts[i])
    groups: list[PrefixGroup] = []
    current: list[int] = []
    shared = 0
    for index in order:
        if current:
            candidate = min(shared, _common(contexts[current[0]], contexts[index]))
            if candidate >= min_shared and len(current) < max_members:
                current.append(index)
                shared = candidate
                continue
            groups.append(_close(current, shared, contexts))
        current, shared = [index], len(contexts[index])
    if current:
        groups.append(_close(current, shared, contexts))
    return groups


def _close(members: list[int], shared: int, contexts: dict[int, list[int]]) -> PrefixGroup:
    shortest = min(len(contexts[i]) for i in members)
    return PrefixGroup(min(shared, shortest - 1), tuple(members))
