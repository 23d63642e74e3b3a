"""The server-drawn SVG charts against hand-placed points (fast: no server, no browser)."""

from __future__ import annotations

import re

from relpredict.web.charts import HEIGHT, LEFT, TOP, WIDTH, reliability_chart


def test_the_reliability_diagram_puts_each_bin_at_predicted_vs_observed() -> None:
    bins = {"val": [{"lo": 0.0, "hi": 0.1, "predicted": 0.05, "observed": 0.0, "count": 40},
                    {"lo": 0.5, "hi": 0.6, "predicted": 0.55, "observed": 0.75, "count": 8}],
            "test": [{"lo": 0.9, "hi": 1.0, "predicted": 0.95, "observed": 1.0, "count": 3}]}
    svg = str(reliability_chart(bins, "rel"))
    dots = re.findall(r'<circle class="dot (split-\w+)" cx="([\d.]+)" cy="([\d.]+)"', svg)
    # x = LEFT + p * WIDTH, y = TOP + HEIGHT - o * HEIGHT (both axes 0 to 1)
    assert dots == [("split-val", f"{LEFT + 0.05 * WIDTH:.1f}", f"{TOP + HEIGHT:.1f}"),
                    ("split-val", f"{LEFT + 0.55 * WIDTH:.1f}", f"{TOP + HEIGHT - 0.75 * HEIGHT:.1f}"),
                    ("split-test", f"{LEFT + 0.95 * WIDTH:.1f}", f"{TOP:.1f}")]
    assert "validation 0.5-0.6: predicted 0.550, observed 0.750 (8 rows)" in svg
    assert ">validation</text>" in svg and ">test</text>" in svg and ">perfect</text>" in svg
    assert 'class="line diagonal"' in svg and ">predicted probability</text>" in svg
    assert reliability_chart({"val": []}, "none") is None
