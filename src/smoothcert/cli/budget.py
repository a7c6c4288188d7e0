"""The Monte Carlo budget: largest certifiable radius for N, and samples needed for a radius."""

from __future__ import annotations

import argparse
import sys
from decimal import Decimal

from smoothcert.cli._args import nonnegative_float, positive_float, positive_int, probability, unit_interval
from smoothcert.errors import UserError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--n", type=positive_int, required=True, help="estimation samples N")
    parser.add_argument("--alpha", type=probability, default=0.001, help="failure probability (default 0.001)")
    parser.add_argument("--sigma", type=positive_float, required=True, help="noise level")
    parser.add_argument("--radius", type=nonnegative_float, nargs="*", default=[], help="target radii")
    parser.add_argument("--p-a", type=unit_interval, default=1.0, help="true top-class probability (default 1)")
    parser.add_argument("--plot", metavar="OUT",
                        help="draw the largest certifiable radius vs N (log x) to OUT (.png, .svg, .pdf)")
    parser.add_argument("--alphas", type=probability, nargs="+", metavar="A",
                        help="failure probabilities drawn by --plot (default: --alpha)")


def run(args: argparse.Namespace) -> int:
    from smoothcert import stats
    from smoothcert.cli._warnings import warn_futile

    if args.plot:
        from smoothcert.analysis.budget_plot import plot_format

        plot_format(args.plot)  # a bad extension fails before anything is printed
    elif args.alphas:
        raise UserError("--alphas only sets the curves of --plot; add --plot OUT.png")
    best = stats.max_radius(args.n, args.alpha, args.sigma)
    print(f"N={args.n}  alpha={args.alpha}  sigma={args.sigma}")
    print(f"largest certifiable radius (all N samples agree): {best:.4f}")
    for radius in args.radius:
        print(budget_row(radius, args.sigma, args.alpha, args.p_a, args.n))
    warn_futile(args.n, args.alpha, args.sigma, args.radius)
    if args.plot:
        from smoothcert.analysis.budget_plot import plot_budget

        plot_budget(args.plot, args.n, args.sigma, args.alphas or [args.alpha], args.radius)
        print(f"wrote {args.plot}", file=sys.stderr)
    return 0


def budget_row(radius: float, sigma: float, alpha: float, p_a: float, n: int) -> str:
    """One line of the budget table: the samples ``radius`` needs, or why no number of samples suffices."""
    from smoothcert import stats

    try:
        need = stats.samples_needed(radius, sigma, alpha, p_a)
    except ValueError:
        threshold = stats.normal_cdf(radius / sigma)
        return (f"radius {radius:g} with p_A={p_a:g}: unreachable (p_A must exceed Phi(radius/sigma) = "
                f"{threshold:.10g}; no N suffices)")
    verdict = "within" if need <= n else "beyond"
    shown = str(need) if need < 10**18 else f"{Decimal(need):.3e}".replace("e+", "e")
    return f"radius {radius:g} with p_A={p_a:g}: needs N >= {shown} ({verdict} N={n})"
