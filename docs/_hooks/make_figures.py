"""Regenerate the figures in docs/assets/ (run from the repository root).

    .venv/bin/python docs/_hooks/make_figures.py

The PNGs are committed, so building the docs needs neither this script nor a display.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from refsampler import interpolate
from refsampler.plots import plot_alpha_shares, plot_plan, plot_quota_cumulative

ASSETS = Path(__file__).resolve().parents[1] / "assets"
COUNTS = [740, 70, 150, 20, 20]


def main() -> None:
    """Write alpha_shares.png, plan_fixed.png and quota_cumulative.png."""
    ax = plot_alpha_shares(COUNTS, batch_size=32)
    ax.figure.savefig(ASSETS / "alpha_shares.png", dpi=100)
    plt.close(ax.figure)
    plot_plan(COUNTS, 32, alpha=0.5, kind="fixed", path=ASSETS / "plan_fixed.png")
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    target = interpolate(COUNTS, 0.5)
    plot_quota_cumulative(target, 32, 30, ax=axes[0])
    plot_quota_cumulative(target, 32, 30, deviation=True, ax=axes[1])
    fig.savefig(ASSETS / "quota_cumulative.png", dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    main()
