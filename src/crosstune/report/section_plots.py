"""Figures of the run-folder sections (position preference, bias transfer), as base64 PNGs."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from crosstune.report.style import encode

ROLE_COLOURS = {"train": "C0", "heldout": "C1"}


def position_mass(curves: pd.DataFrame) -> str:
    """Mass by presented position per backbone: untuned vs mean of its finetunes, uniform as steps.

    `curves`: backbone, group, n_options, position, label, mass, uniform (one row per point).
    """
    backbones = list(dict.fromkeys(curves.backbone))
    fig, axes = plt.subplots(len(backbones), 1, figsize=(7, 2.6 * len(backbones)), squeeze=False)
    for ax, backbone in zip(axes[:, 0], backbones, strict=True):
        rows = curves[curves.backbone == backbone]
        slots = rows[["n_options", "position", "label", "uniform"]].drop_duplicates(
            ["n_options", "position"]).sort_values(["n_options", "position"]).reset_index(drop=True)
        # a gap between option counts, so the letters of 2-option and 5-option prompts stay apart
        x = slots.index.to_numpy() + slots.n_options.rank(method="dense").to_numpy() - 1
        where = {(n, p): xi for n, p, xi in zip(slots.n_options, slots.position, x, strict=True)}
        groups = list(dict.fromkeys(rows.group))
        width = 0.8 / max(len(groups), 1)
        for i, group in enumerate(groups):
            points = rows[rows.group == group]
            xs = [where[(n, p)] + (i - (len(groups) - 1) / 2) * width
                  for n, p in zip(points.n_options, points.position, strict=True)]
            ax.bar(xs, points.mass, width=width, label=group, color=f"C{i}")
        ax.hlines(slots.uniform, x - 0.45, x + 0.45, colors="black", linestyles="dashed", lw=1,
                  label="uniform")
        ax.set_xticks(x, [f"{lab}\n{n} opt." for lab, n in zip(slots.label, slots.n_options, strict=True)],
                      fontsize=7)
        ax.set_ylabel("mean probability")
        ax.set_title(backbone, fontsize=9)
        ax.legend(fontsize=7)
    axes[-1, 0].set_xlabel("presented position (letter) and number of options")
    fig.tight_layout()
    return encode(fig)


def transfer_changes(transfer: pd.DataFrame) -> str:
    """Per-bias change of the bias-injection arm with 95% CI, train vs held-out biases coloured;
    one row of panels per backbone, one column per reference (control, untuned)."""
    backbones = list(dict.fromkeys(transfer.backbone))
    versus = [v for v in ("control", "untuned") if v in set(transfer.versus)]
    versus += sorted(set(transfer.versus) - set(versus))
    n_bias = max(transfer.groupby(["backbone", "versus"]).size().max(), 1)
    fig, axes = plt.subplots(len(backbones), len(versus), squeeze=False, sharex="col",
                             figsize=(4.5 * len(versus), (0.22 * n_bias + 1.2) * len(backbones)))
    for r, backbone in enumerate(backbones):
        for c, against in enumerate(versus):
            ax = axes[r, c]
            rows = transfer[(transfer.backbone == backbone) & (transfer.versus == against)]
            rows = rows.sort_values(["role", "bias"], ascending=[False, True]).reset_index(drop=True)
            err = np.vstack([rows.change - rows.ci_low, rows.ci_high - rows.change])
            # no CI (one seed) or one that misses its estimate: no whisker on that side, not an error
            err = np.where(np.isfinite(err), err, 0).clip(min=0)
            colours = [ROLE_COLOURS.get(role, "grey") for role in rows.role]
            ax.barh(rows.index, rows.change, color=colours, xerr=err, capsize=2,
                    error_kw={"lw": 0.8})
            ax.axvline(0, color="black", lw=0.8)
            ax.set_yticks(rows.index, rows.bias, fontsize=7)
            ax.invert_yaxis()
            ax.set_title(f"{backbone}: vs {against}", fontsize=9)
            ax.set_xlabel("change in bias score (95% CI)")
    handles = [plt.Rectangle((0, 0), 1, 1, color=colour) for colour in ROLE_COLOURS.values()]
    fig.tight_layout()
    fig.legend(handles, ["trained bias", "held-out bias"], loc="lower center", bbox_to_anchor=(0.5, 1.0),
               ncol=2, fontsize=7)
    return encode(fig)


def format_entropy(census: pd.DataFrame) -> str:
    """Format entropy (bits) per checkpoint of each RL arm, one panel per backbone: the mean over
    seeds as a line, each seed as a faint line; step 0 is the backbone before training."""
    backbones = list(dict.fromkeys(census.backbone))
    fig, axes = plt.subplots(1, len(backbones), figsize=(5.5 * len(backbones), 3.4), squeeze=False)
    for ax, backbone in zip(axes[0], backbones, strict=True):
        rows = census[census.backbone == backbone]
        for i, (arm, group) in enumerate(rows.groupby(["reward", "questions"], sort=False)):
            colour = f"C{i}"
            for _, seed in group.groupby("seed"):
                ax.plot(seed.step, seed.entropy_bits, color=colour, alpha=0.3, lw=0.8)
            mean = group.groupby("step").entropy_bits.mean()
            ax.plot(mean.index, mean.values, color=colour, marker="o", ms=3, label=f"{arm[0]} on {arm[1]}")
        ax.set_xlabel("GRPO step")
        ax.set_ylabel("answer-format entropy (bits)")
        ax.set_ylim(bottom=0)
        ax.set_title(backbone, fontsize=9)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return encode(fig)
