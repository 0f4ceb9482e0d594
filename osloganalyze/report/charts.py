"""Small PNG charts for the report: errors per bucket of the period (hour, day, week or month,
sized to the period) against the baseline's mean."""
from __future__ import annotations

import io


def tick_label(start: str, bucket: str, days: int) -> str:
    """How a bucket's start reads under its bar: 'HH:MM' within a day, 'MM-DD HH:MM' over
    several, 'MM-DD' for days, the date for weeks, 'YYYY-MM' for months."""
    if bucket == "hour":
        return start[11:16] if days <= 1 else f"{start[5:10]} {start[11:16]}"
    return {"day": start[5:10], "week": start[:10]}.get(bucket, start[:7])


def errors_chart(service: str, data: dict) -> bytes:
    """A 600x160 px PNG: one bar per bucket of the period's errors (at most ~100 bars: time stays
    bounded whatever the period), a line for the baseline mean, integer counts on the y axis."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.ticker import MaxNLocator

    starts = data["starts"]
    bucket = data.get("bucket", "hour")
    positions = list(range(len(starts)))
    days = len({s[:10] for s in starts})
    figure, axes = plt.subplots(figsize=(6, 1.6), dpi=100)
    try:
        axes.bar(positions, data["counts"], color="#c0392b", width=0.8, label="errors")
        if data.get("baseline"):
            base = [float("nan") if v is None else v for v in data["baseline"]]
            axes.plot(positions, base, color="#2c3e50", linewidth=1.5, label="baseline mean")
        step = max(1, len(positions) // 8)
        axes.set_xticks(positions[::step])
        axes.set_xticklabels([tick_label(s, bucket, days) for s in starts[::step]], fontsize=7)
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        axes.tick_params(axis="y", labelsize=7)
        axes.set_title(f"{service}: errors per {bucket} (UTC)", fontsize=8, loc="left")
        axes.legend(fontsize=6, loc="upper right", frameon=False)
        for side in ("top", "right"):
            axes.spines[side].set_visible(False)
        figure.tight_layout(pad=0.4)
        out = io.BytesIO()
        figure.savefig(out, format="png")
        return out.getvalue()
    finally:
        plt.close(figure)
