"""Plots (PNG, SVG, PDF), the budget plot and the HTML report: valid, not empty, atomic."""

from __future__ import annotations

import base64
import html.parser
import json
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from smoothcert import stats
from smoothcert.analysis import load_results
from smoothcert.analysis.budget_plot import max_radius_curve, plot_budget
from smoothcert.analysis.margin_plot import plot_margins
from smoothcert.analysis.plots import plot_certified_accuracy, plot_radius_histogram
from smoothcert.analysis.report import build_report, collect_inputs
from smoothcert.cli.main import main
from smoothcert.errors import UserError

HEADER = "idx\tlabel\tpredict\tradius\tcorrect\ttime\n"
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def runs(tmp_path):
    rows_a = [(0, 1, 0.5, 1), (1, -1, 0.0, 0), (2, 1, 0.25, 1), (3, 2, 0.75, 0)]
    rows_b = [(0, 1, 1.0, 1), (1, 1, 0.125, 1), (2, -1, 0.0, 0), (3, -1, 0.0, 0)]
    paths = []
    for name, rows in (("a_<x>.tsv", rows_a), ("b.tsv", rows_b)):
        path = tmp_path / name
        path.write_text(HEADER + "".join(f"{i}\t1\t{p}\t{r}\t{c}\t0.1\n" for i, p, r, c in rows))
        paths.append(path)
    (tmp_path / "b.tsv.json").write_text(json.dumps({"arch": "<script>alert(1)</script>", "n": 100}))
    return paths


def check_image(path, fmt):
    data = path.read_bytes()
    assert len(data) > 1000
    if fmt == "png":
        assert data[:8] == PNG
    elif fmt == "svg":
        root = ET.fromstring(data)
        assert root.tag.endswith("svg")
    else:
        assert data[:5] == b"%PDF-"


@pytest.mark.parametrize("fmt", ["png", "svg", "pdf"])
def test_certified_accuracy_with_envelope_and_histogram(tmp_path, runs, fmt):
    results = [load_results(p) for p in runs]
    out = plot_certified_accuracy(results, tmp_path / "plots" / f"ca.{fmt}", envelope=True)
    check_image(out, fmt)
    check_image(plot_radius_histogram(results, tmp_path / "plots" / f"h.{fmt}", bins=5), fmt)
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == [f"ca.{fmt}", f"h.{fmt}"]
    assert (out.stat().st_mode & 0o777) == 0o644


def _outside(fig):
    """The figure's legend, checked to lie wholly outside the axes and inside the figure."""
    fig.draw_without_rendering()  # runs the constrained layout, as saving does
    (legend,) = fig.legends
    box, axes = legend.get_window_extent(), fig.axes[0].get_window_extent()
    assert box.x0 >= axes.x1 or box.y1 <= axes.y0, (box, axes)  # beside or below: never over the curves
    assert box.x0 >= fig.bbox.x0 - 1 and box.x1 <= fig.bbox.x1 + 1 and box.y0 >= fig.bbox.y0 - 1
    return legend, box, axes


def test_a_long_legend_goes_beside_the_axes(tmp_path, runs):
    """21 runs (the digits methods report): the legend sits right of the axes, not over the curves, and
    runs 11-20 differ from runs 1-10 in line style (the colour cycle has 10 colours); 2 runs: below."""
    from smoothcert.analysis.plots import certified_accuracy_figure

    results = [load_results(runs[k % 2]) for k in range(21)]
    fig = certified_accuracy_figure(results, envelope=True)
    legend, box, axes = _outside(fig)
    assert box.x0 > axes.x1
    assert len(legend.get_texts()) == 22
    styles = [line.get_linestyle() for line in fig.axes[0].get_lines()[:21]]
    assert styles[0] == styles[9] == "-" and styles[10] == "--" and styles[20] == ":"
    small = certified_accuracy_figure(results[:2], envelope=True)
    _, box, axes = _outside(small)
    assert box.y1 <= axes.y0  # below the axes
    assert fig.get_figwidth() > small.get_figwidth()


def _manifest(path, **fields):
    base = {"dataset": "digits", "split": "test", "sigma": 0.5, "n": 100, "alpha": 0.001}
    path.with_name(path.name + ".json").write_text(json.dumps({**base, **fields}))
    return load_results(path)


def _limit_lines(fig):
    return [(line.get_xdata()[0], line.get_label()) for line in fig.axes[0].get_lines()
            if line.get_linestyle() == ":" and line.get_label().startswith("largest radius")]


def test_largest_radius_n_allows_is_marked(runs):
    """One shared dotted line when the runs' (n, alpha, sigma) agree; one per run, named, when not;
    a sequential run's limit is its final look's, at alpha / 2; the x axis reaches past the limit."""
    from smoothcert.analysis.plots import certified_accuracy_figure, radius_histogram_figure, radius_limits

    a, b = _manifest(runs[0]), _manifest(runs[1])
    limit = stats.max_radius(100, 0.001, 0.5)  # 0.5 * Phi^-1(0.001 ** 0.01) = 0.7517...
    assert radius_limits([a, b]) == [(limit, [0, 1])]
    curves, hist = certified_accuracy_figure([a, b], envelope=True), radius_histogram_figure([a, b])
    for fig in (curves, hist):
        assert _limit_lines(fig) == [(limit, f"largest radius N=100 allows: {limit:.3g}")]
        _outside(fig)
    assert curves.axes[0].get_xlim()[1] == pytest.approx(1.05 * 1.0)  # past the largest radius (1.0, in b)
    assert hist.axes[0].get_xlim()[1] == 1.0  # the bins' right end
    tiny = _manifest(runs[1], sigma=2.0)  # limit 3.007: the axes reach past it
    assert certified_accuracy_figure([tiny]).axes[0].get_xlim()[1] == pytest.approx(1.05 * 4 * limit)
    assert radius_histogram_figure([tiny]).axes[0].get_xlim()[1] == pytest.approx(1.05 * 4 * limit)
    b = _manifest(runs[1], n=1000, mode="sequential")
    seq_limit = stats.max_radius(1000, 0.0005, 0.5)
    assert radius_limits([a, b]) == [(limit, [0]), (seq_limit, [1])]
    lines = _limit_lines(certified_accuracy_figure([a, b], max_radius=1.0))
    assert lines == [(limit, f"largest radius N=100 allows (a_<x>): {limit:.3g}"),
                     (seq_limit, f"largest radius N=1,000 allows (b): {seq_limit:.3g} — beyond the axis")]
    bare = runs[0].with_name("bare.tsv")
    bare.write_text(runs[0].read_text())
    assert radius_limits([load_results(bare)]) == []  # no manifest: no line
    runs[1].with_name("b.tsv.json").write_text(json.dumps({"n": 100}))
    assert radius_limits([load_results(runs[1])]) == []  # no alpha nor sigma: no line


def test_histogram_legend_is_outside(runs):
    from smoothcert.analysis.plots import radius_histogram_figure

    results = [load_results(p) for p in runs]
    _, box, axes = _outside(radius_histogram_figure(results))
    assert box.y1 <= axes.y0
    _, box, axes = _outside(radius_histogram_figure(results * 4))  # 8 entries: beside
    assert box.x0 >= axes.x1


def test_histogram_of_empty_run(tmp_path):
    (tmp_path / "e.tsv").write_text(HEADER)
    check_image(plot_radius_histogram([load_results(tmp_path / "e.tsv")], tmp_path / "e.png"), "png")
    with pytest.raises(UserError, match="bins"):
        plot_radius_histogram([load_results(tmp_path / "e.tsv")], tmp_path / "f.png", bins=0)


def test_budget_curve_matches_stats():
    ns = np.array([1, 7, 100, 10_000, 100_000])
    curve = max_radius_curve(ns, 0.001, 0.5)
    expected = [stats.max_radius(int(n), 0.001, 0.5) for n in ns]
    np.testing.assert_allclose(curve, expected, rtol=1e-12, atol=0)
    assert curve[0] == 0.0  # one sample cannot certify at alpha = 0.001


@pytest.mark.parametrize("fmt", ["png", "svg", "pdf"])
def test_budget_plot(tmp_path, fmt):
    check_image(plot_budget(tmp_path / f"b.{fmt}", 100_000, 0.25, [0.01, 0.001], radii=[0.5]), fmt)


def test_budget_plot_errors(tmp_path):
    with pytest.raises(UserError, match="alphas"):
        plot_budget(tmp_path / "b.png", 100, 0.25, [])
    with pytest.raises(UserError, match="unsupported extension"):
        plot_budget(tmp_path / "b.jpg", 100, 0.25, [0.01])
    assert list(tmp_path.iterdir()) == []


def test_budget_cli_plot(tmp_path, capsys):
    out = tmp_path / "budget.svg"
    assert main(["budget", "--n", "1000", "--sigma", "0.5", "--radius", "0.5",
                 "--plot", str(out), "--alphas", "0.01", "0.001"]) == 0
    check_image(out, "svg")
    assert "largest certifiable radius" in capsys.readouterr().out
    assert main(["budget", "--n", "1000", "--sigma", "0.5", "--plot", str(tmp_path / "x.gif")]) == 2
    assert main(["budget", "--n", "1000", "--sigma", "0.5", "--alphas", "0.01"]) == 2
    assert capsys.readouterr().out == ""  # errors before anything is printed


def test_margins_plot(tmp_path):
    rng = np.random.default_rng(0)
    n = 20

    def table(with_input):
        return {"idx": np.arange(n), "label": np.ones(n, int), "smoothed_pred": np.ones(n, int),
                "margin_mean": rng.normal(2, 1, n), "p_correct": np.full(n, 0.9),
                "input_margin": (np.where(np.arange(n) % 5 == 0, np.inf, rng.choice([0.25, 0.5, 0.75], n))
                                 if with_input else np.full(n, np.nan))}

    check_image(plot_margins({"a": table(True), "b": table(True)}, tmp_path / "m.png"), "png")
    check_image(plot_margins({"a": table(False)}, tmp_path / "m.svg"), "svg")


class _Checker(html.parser.HTMLParser):
    """Records tags, checks that non-void elements nest properly, collects text."""

    VOID = frozenset({"meta", "img", "br", "hr", "link", "input"})

    def __init__(self):
        super().__init__()
        self.stack, self.tags, self.text, self.images = [], [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "img":
            self.images.append(dict(attrs)["src"])
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-1:]}"
        self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def parse_html(document):
    checker = _Checker()
    checker.feed(document)
    checker.close()
    assert checker.stack == []
    return checker


def test_report_is_valid_self_contained_and_escaped(tmp_path, runs):
    run_dir = tmp_path / "train_run"
    run_dir.mkdir()
    (run_dir / "config.yaml").write_text("arch: digits_cnn\nnote: '</pre><b>'\n")
    (run_dir / "log.csv").write_text("epoch,loss\n" + "".join(f"{e},{1 / e}\n" for e in range(1, 31)))
    tsvs, dirs = collect_inputs([*runs, run_dir])
    assert tsvs == runs and dirs == [run_dir]
    results = [load_results(p) for p in tsvs]
    document = build_report(results, dirs, [0.0, 0.5], title="t & <t>", log_lines=3)
    parsed = parse_html(document)
    text = "".join(parsed.text)
    assert parsed.tags.count("table") >= 6  # summary, envelope, 3 abstention, 2 manifests/log
    assert "<script" not in document and "&lt;script&gt;alert(1)&lt;/script&gt;" in document
    assert "a_<x>" in text and "t & <t>" in text and "</pre><b>" in text
    assert "last 3 of 30 rows" in text and "<td>28</td>" in document and "<td>27</td>" not in document
    assert "no manifest" in text  # a_<x>.tsv has none
    assert len(parsed.images) == 2
    for src in parsed.images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == PNG
    assert not re.search(r"""(src|href)=["'](?!data:)""", document)  # no external asset


def test_report_notes_disjoint_abstention(tmp_path):
    for name, start in (("a.tsv", 0), ("b.tsv", 10)):
        (tmp_path / name).write_text(HEADER + f"{start}\t1\t-1\t0.0\t0\t0.1\n")
    results = [load_results(tmp_path / n) for n in ("a.tsv", "b.tsv")]
    text = "".join(parse_html(build_report(results, [], [0.5])).text)
    assert "not computed" in text and "share no example idx" in text


def test_report_cli(tmp_path, runs, capsys):
    out = tmp_path / "out" / "report.html"
    assert main(["report", *map(str, runs), "--out", str(out), "--group", "all=*.tsv",
                 "--radii", "0.25"]) == 0
    document = out.read_text()
    assert "Groups (mean ± std" in document and "<td>all</td>" in document
    parse_html(document)
    assert (out.stat().st_mode & 0o777) == 0o644
    assert main(["report", str(runs[0]), "--out", str(tmp_path / "r.txt")]) == 2
    assert main(["report", str(tmp_path / "missing.tsv"), "--out", str(tmp_path / "r.html")]) == 2
    empty_dir = tmp_path / "nothing"
    empty_dir.mkdir()
    assert main(["report", str(empty_dir), "--out", str(tmp_path / "r.html")]) == 2
    assert not (tmp_path / "r.html").exists() and "error: " in capsys.readouterr().err
