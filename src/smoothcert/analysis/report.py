"""One self-contained HTML page about certification, PREDICT and attack runs.

The page holds the notes and warnings about the runs (sequential runs,
settings or images that differ), the summary table (with Clopper–Pearson
intervals), the attack runs' robust accuracy, the certified-accuracy plot with
the envelope, the histogram of radii, the envelope and abstention-overlap
tables, group means when groups are given, each run's manifest
(``FILE.tsv.json``) and, for run directories, ``config.yaml`` and the last
lines of ``log.csv``. Plots are embedded as base64 PNG; there are no external
assets. All text from files is escaped with :func:`html.escape`. Reads files
only, never models.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import time
from collections.abc import Sequence
from pathlib import Path

from smoothcert.analysis._figure import figure_bytes, write_output
from smoothcert.analysis._render import render
from smoothcert.analysis.abstention import abstention_overlap, format_overlap
from smoothcert.analysis.attack_results import format_attack_table, summarize_attack
from smoothcert.analysis.envelope import envelope, format_envelope
from smoothcert.analysis.groups import Group, format_groups, group_summary
from smoothcert.analysis.intervals import DEFAULT_LEVEL
from smoothcert.analysis.manifests import (
    off_target_warnings,
    sequential_note,
    setting_warnings,
)
from smoothcert.analysis.metrics import summarize
from smoothcert.analysis.runs import Run, attack_runs, certification_runs, labelled_runs
from smoothcert.analysis.tables import format_table
from smoothcert.errors import UserError

CONFIG_NAME = "config.yaml"
LOG_NAME = "log.csv"
_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 70em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.2em; font-size: 0.92em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f2f2f2; } td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
pre { background: #f7f7f7; border: 1px solid #ddd; padding: 0.6em; overflow-x: auto; font-size: 0.85em; }
img { max-width: 100%; } .note { color: #666; } h2 { border-bottom: 1px solid #ddd; }
"""


def collect_inputs(paths: Sequence[str | Path]) -> tuple[list[Path], list[Path]]:
    """Split ``paths`` into result TSVs and run directories.

    A file is taken as a TSV (any name: the original papers' files have no
    extension). A directory is a run directory; its ``*.tsv`` files are added
    to the TSVs (sorted by name).

    Raises:
        UserError: A path that does not exist, or a directory holding no
            ``*.tsv``, ``config.yaml`` nor ``log.csv``.
    """
    tsvs: list[Path] = []
    dirs: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(path.glob("*.tsv"))
            if not found and not (path / CONFIG_NAME).is_file() and not (path / LOG_NAME).is_file():
                raise UserError(f"{str(path)!r} is a directory with no *.tsv, {CONFIG_NAME} or {LOG_NAME}; "
                                "pass certification TSVs or a training run directory")
            dirs.append(path)
            tsvs.extend(p for p in found if p not in tsvs)
        elif path.exists():
            if path not in tsvs:
                tsvs.append(path)
        else:
            raise UserError(f"{str(path)!r} not found; pass certification TSVs or run directories")
    return tsvs, dirs


def _png(fig: object) -> str:
    data = base64.b64encode(figure_bytes(fig, "png")).decode("ascii")  # type: ignore[arg-type]
    return f'<img alt="plot" src="data:image/png;base64,{data}">'


def _note(text: str) -> str:
    return f'<p class="note">{html.escape(text)}</p>'


def _manifest(res: Run) -> str:
    path = Path(str(res.path) + ".json")
    if not path.is_file():
        return _note(f"no manifest {path.name} beside the TSV (a file of the original papers?)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise TypeError("not a JSON object")
    except (OSError, UnicodeDecodeError, ValueError, TypeError) as exc:
        return _note(f"manifest {path.name} is unreadable: {exc}")
    rows = [[str(k), v if isinstance(v, str) else json.dumps(v)] for k, v in data.items()]
    return render(["key", "value"], rows, "html", left=2)


def _log_tail(path: Path, lines: int) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return _note(f"{path.name} is unreadable: {exc}")
    rows = [r for r in csv.reader(io.StringIO(text)) if r]
    if not rows:
        return _note(f"{path.name} is empty")
    head, body = rows[0], rows[1:][-lines:] if lines > 0 else []
    if any(len(r) != len(head) for r in body):
        tail = text.splitlines()[-lines:] if lines > 0 else []
        return f"<pre>{html.escape(chr(10).join([text.splitlines()[0], *tail]))}</pre>"
    caption = _note(f"last {len(body)} of {len(rows) - 1} rows")
    return caption + "\n" + render(head, body, "html")


def _run_dir(path: Path, log_lines: int) -> str:
    parts = [f"<h3>{html.escape(str(path))}</h3>"]
    config = path / CONFIG_NAME
    if config.is_file():
        try:
            text = config.read_text(encoding="utf-8")
            parts.append(f"<h4>{CONFIG_NAME}</h4>\n<pre>{html.escape(text)}</pre>")
        except (OSError, UnicodeDecodeError) as exc:
            parts.append(_note(f"{CONFIG_NAME} is unreadable: {exc}"))
    else:
        parts.append(_note(f"no {CONFIG_NAME}"))
    log = path / LOG_NAME
    parts.append(f"<h4>{LOG_NAME}</h4>\n" + (_log_tail(log, log_lines) if log.is_file() else _note(f"no {LOG_NAME}")))
    return "\n".join(parts)


def _summary(runs: Sequence[Run], radii: Sequence[float], level: float) -> list[str]:
    labelled, attacks = labelled_runs(runs), attack_runs(runs)
    out = []
    messages = [m for m in [sequential_note(runs), *setting_warnings(runs), *off_target_warnings(runs, radii)] if m]
    if messages:
        out += ["<h2>Notes</h2>", "<ul>" + "".join(f"<li>{html.escape(m)}</li>" for m in messages) + "</ul>"]
    if labelled:
        out += ["<h2>Summary</h2>", format_table([summarize(r, radii, level) for r in labelled], radii, "html", level),
                _note("Certified accuracy at r: fraction of all examples certified correct with radius >= r "
                      "(abstentions count as wrong), with its two-sided Clopper-Pearson interval over the images; "
                      "ACR: mean of radius x correct (not given for sequential runs, whose radius is a target "
                      "radius); PREDICT runs have accuracy and abstention only.")]
    if attacks:
        out += ["<h2>Empirical robust accuracy (attack)</h2>",
                format_attack_table([summarize_attack(r, level) for r in attacks], "html", level),
                _note("Fraction of all examples still predicted correctly (by PREDICT, abstentions wrong) after "
                      "the attack at radius eps: an upper bound on the robust accuracy, not a certificate.")]
    return out


def _results_sections(runs: Sequence[Run], radii: Sequence[float], groups: Sequence[Group] | None,
                      level: float) -> list[str]:
    from smoothcert.analysis.plots import (
        certified_accuracy_figure,
        radius_histogram_figure,
    )

    labelled, results = labelled_runs(runs), certification_runs(runs)
    out = _summary(runs, radii, level)
    several = len(results) > 1
    if results:
        out += ["<h2>Certified accuracy vs radius</h2>",
                _png(certified_accuracy_figure(results, envelope=several)),
                "<h2>Certified radii of correct predictions</h2>", _png(radius_histogram_figure(results))]
    if several:
        out += ["<h2>Envelope: best certified accuracy per radius</h2>",
                format_envelope(envelope(results, radii), "html")]
    if len(labelled) > 1:
        out.append("<h2>Abstention overlap</h2>")
        try:
            out.append(format_overlap(abstention_overlap(labelled), "html"))
        except UserError as exc:
            out.append(_note(f"not computed: {exc}"))
    if groups:
        out += ["<h2>Groups (mean ± std over runs, ddof=1)</h2>",
                format_groups([group_summary(g, radii) for g in groups], radii, "html")]
    out.append("<h2>Runs</h2>")
    for res in runs:
        out += [f"<h3>{html.escape(res.name)}</h3>", _note(f"{res.path} ({res.kind}, {len(res)} examples)"),
                _manifest(res)]
    return out


def build_report(results: Sequence[Run], run_dirs: Sequence[Path], radii: Sequence[float], *,
                 groups: Sequence[Group] | None = None, title: str = "smoothcert report",
                 log_lines: int = 10, level: float = DEFAULT_LEVEL) -> str:
    """The report as one HTML document (a string).

    Guarantees: the page references no external file or URL; every piece of
    text taken from the inputs is escaped. Plots and the envelope need
    certification runs (the envelope two or more); abstention overlap appears
    for two or more CERTIFY, sequential or PREDICT runs (a comparison that is
    impossible, e.g. disjoint idx, is shown as a note, not an error).

    Args:
        results: Runs of any kind (may be empty when only run directories are given).
        run_dirs: Training run directories (their ``config.yaml`` and ``log.csv``).
        radii: Radii of the tables.
        groups: Groups for the mean ± std table, or ``None``.
        title: Page title.
        log_lines: How many of the last ``log.csv`` rows to show.
        level: Level of the Clopper–Pearson intervals.
    """
    from smoothcert import __version__

    body = [f"<h1>{html.escape(title)}</h1>",
            _note(f"smoothcert {__version__}, {time.strftime('%Y-%m-%d %H:%M:%S')}; "
                  f"{len(results)} run(s), radii {', '.join(f'{float(r):g}' for r in radii)}")]
    if results:
        body += _results_sections(results, radii, groups, level)
    else:
        body.append(_note("no result TSVs were given"))
    if run_dirs:
        body.append("<h2>Run directories</h2>")
        body += [_run_dir(d, log_lines) for d in run_dirs]
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{html.escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
            + "\n".join(body) + "\n</body>\n</html>\n")


def write_report(out_path: str | Path, document: str) -> Path:
    """Write the HTML ``document`` to ``out_path`` atomically (0644 for a new file)."""
    return write_output(out_path, document.encode("utf-8"))
