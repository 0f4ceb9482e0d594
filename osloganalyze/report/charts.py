"""Small PNG charts for the report: errors per hour of the period against the baseline's mean."""
from __future__ import annotations

import io


def errors_chart(service: str, data: dict) -> bytes:
    """A 600x160 px PNG: bars for the period's errors per hour, a line for the baseline mean."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    hours = list(range(len(data["hours"])))
    figure, axes = plt.subplots(figsize=(6, 1.6), dpi=100)
    try:
        axes.bar(hours, data["counts"], color="#c0392b", width=0.8, label="errors")
        if data.get("baseline"):
            base = [float("nan") if v is None else v for v in data["baseline"]]
            axes.plot(hours, base, color="#2c3e50", linewidth=1.5, label="baseline mean")
        step = max(1, len(hours) // 8)
        axes.set_xticks(hours[::step])
        axes.set_xticklabels([h[11:16] for h in data["hours"][::step]], fontsize=7)
        axes.tick_params(axis="y", labelsize=7)
        axes.set_title(f"{service}: errors per hour (UTC)", fontsize=8, loc="left")
        axes.legend(fontsize=6, loc="upper right", frameon=False)
        for side in ("top", "right"):
            axes.spines[side].set_visible(False)
        figure.tight_layout(pad=0.4)
        out = io.BytesIO()
        figure.savefig(out, format="png")
        return out.getvalue()
    finally:
        plt.close(figure)
