"""Meta-test of the kit: under a correct sampler the checks' p-values are uniform.

If they are not, the kit's false-alarm rates are not what it reports. Slow (500 seeds).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as scipy_stats

from refsampler.conformance import mutants, properties, stats
from refsampler.conformance.configs import Config
from refsampler.conformance.sample import Sample, Setting

META = Config("meta", (40, 25, 20, 10, 5), 8, 0.5, "small and cheap")
SEEDS = 500
N_BATCHES = 250


def _pvalues(kind: str, seed: int) -> dict[str, float]:
    labels = META.labels()
    batches = np.asarray(
        mutants.control(
            labels, kind=kind, alpha=META.alpha, batch_size=8, n_batches=N_BATCHES, seed=seed
        )
    )
    setting = Setting(kind, META, N_BATCHES, 32)
    sample = Sample(setting, labels, batches, batches[:32], batches[:32], batches[:32])
    return {
        r.check: float(r.pvalue)
        for r in properties.run_properties(sample)
        if not r.exact and r.pvalue is not None
    }


#: The checks whose p-values are continuous enough for a KS test (exact binomial p-values
#: are discrete, so their KS distance is not zero even under the null).
CHECKS = {
    "fixed": ("within_batch_exchangeable", "same_class_adjacency", "cycle_positions_uniform"),
    "quota": ("within_batch_exchangeable", "same_class_adjacency", "cycle_positions_uniform"),
    "random": (
        "class_shares",
        "per_batch_dispersion[0]",
        "serial_draws",
        "serial_batches",
        "within_class_uniform",
        "member_repeats",
        "within_batch_exchangeable",
        "same_class_adjacency",
    ),
}


@pytest.mark.slow
@pytest.mark.statistical(level=1e-8)
@pytest.mark.parametrize("kind", sorted(CHECKS))
def test_pvalues_are_uniform_under_a_correct_sampler(kind: str, stat_seed: int) -> None:
    """KS tests of 500 p-values per check (one per seed) against U(0, 1), Holm at 1e-8.

    False-failure rate 1e-8 per kind. With 500 p-values a KS distance of about 0.14 is
    detected, so a check whose false-alarm rate is off by a constant factor at small levels
    (as the plain contingency test was for fixed batches: X^2 inflated by B / (B - 1)) fails.
    """
    seeds = np.random.SeedSequence(stat_seed).generate_state(SEEDS)
    runs = [_pvalues(kind, int(seed)) for seed in seeds]
    results = [scipy_stats.kstest([run[c] for run in runs], "uniform") for c in CHECKS[kind]]
    rejected, _ = stats.holm([r.pvalue for r in results], 1e-8)
    assert not rejected.any(), dict(zip(CHECKS[kind], results, strict=True))
