"""What this CPU does fast: AMX detection, and the warning where bf16 was asked for and is slow.
Below models/ and engine/, which both ask."""

from __future__ import annotations

import logging

import torch

log = logging.getLogger(__name__)

COMPUTE_DTYPES = ("float32", "bfloat16")


def cpu_has_amx() -> bool:
    """AMX tiles (torch's own check, else the kernel's cpuinfo flags)."""
    check = getattr(torch.cpu, "_is_amx_tile_supported", None)
    if check is not None:
        return bool(check())
    try:
        with open("/proc/cpuinfo") as info:
            flags = info.read()
    except OSError:
        return False
    return "amx_bf16" in flags and "amx_tile" in flags


def warn_if_slow(compute_dtype: str | None) -> None:
    """bf16 on a CPU without AMX is slower than fp32: say so, the user asked for it."""
    if compute_dtype == "bfloat16" and not cpu_has_amx():
        log.warning("this CPU has no AMX: bf16 matmuls run slower than fp32 here; "
                    "leave --dtype at float32 (the default)")
