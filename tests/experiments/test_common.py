"""Steps-to-target comparisons (experiments/common.py), on curves written out by hand."""

import numpy as np
import pytest

from tests.helpers import experiment

comparison = experiment('common')


def rows(curves):
  """Metric rows from {seed: [(env_steps, return), ...]}."""
  return [{'env_steps': s, 'seed_index': seed, 'eval_return': r}
          for seed, points in curves.items() for s, r in points]


# Two seeds each. Baseline mean: -1000, -500, -300, -150, -100 at 2k..10k, so its
# final is -100, first reached at 10k; its 95%-of-improvement target is
# -1000 + 0.95 * 900 = -145, first reached (mean) at 10k too; 90%: -190, at 8k.
BASELINE = rows({0: [(2000, -1000), (4000, -600), (6000, -200), (8000, -100), (10000, -100)],
                 1: [(2000, -1000), (4000, -400), (6000, -400), (8000, -200), (10000, -100)]})
# Candidate mean: -800, -150, -90 at 1k, 2k, 3k.
CANDIDATE = rows({0: [(1000, -700), (2000, -100), (3000, -80)],
                  1: [(1000, -900), (2000, -200), (3000, -100)]})


def test_ratio_compares_each_runs_own_steps_to_the_same_target():
  result = comparison.compare(CANDIDATE, BASELINE)
  assert (result['baseline_first'], result['baseline_final']) == (-1000, -100)
  full, p95, p90 = result['targets']
  assert full['target'] == -100
  assert full['candidate_steps'] == {'mean_curve': 3000, 'seeds': [2000, 3000]}
  assert full['baseline_steps'] == {'mean_curve': 10000, 'seeds': [8000, 10000]}
  assert full['step_ratio'] == 0.3
  assert full['seed_ratio_range'] == [0.2, 0.375]  # 2000/10000 .. 3000/8000
  assert full['median_seed_ratio'] == round(2500 / 9000, 3)
  assert p95['target'] == pytest.approx(-145)
  assert (p95['candidate_steps']['mean_curve'], p95['baseline_steps']['mean_curve']) == (3000, 10000)
  assert p90['target'] == pytest.approx(-190)
  assert p90['baseline_steps'] == {'mean_curve': 8000, 'seeds': [8000, 10000]}
  assert p90['candidate_steps'] == {'mean_curve': 2000, 'seeds': [2000, 3000]}
  assert p90['step_ratio'] == 0.25


def test_a_target_not_reached_gives_no_ratio():
  late = rows({0: [(1000, -900), (2000, -400)], 1: [(1000, -900), (2000, -100)]})
  full = comparison.compare(late, BASELINE)['targets'][0]
  assert full['candidate_steps'] == {'mean_curve': None, 'seeds': [None, 2000]}
  assert full['step_ratio'] is None
  assert full['seed_ratio_range'] == [0.2, 0.25]  # only the seed that got there
  assert full['median_seed_ratio'] is None  # of two seeds, one never got there


def test_median_counts_a_seed_that_never_reached_as_last():
  assert comparison.median_steps([3000, None, 1000]) == 3000
  assert comparison.median_steps([None, None, 1000]) is None


def test_curves_are_quoted_at_several_steps():
  at = comparison.compare(CANDIDATE, BASELINE)['at_steps']
  # A quarter of 3000 is nearest the 1000-step evaluation; the baseline's final, 10k.
  assert [p['env_steps'] for p in at['candidate']] == [1000, 2000, 3000]
  assert [p['env_steps'] for p in at['baseline']] == [2000, 10000]
  assert at['candidate'][0] == {'env_steps': 1000, 'mean': -800, 'min': -900, 'max': -700,
                                'seeds': 2}


def test_first_step_where_a_flag_holds_or_a_value_reaches_the_target():
  assert comparison.first_where([10, 20, 30], [False, True, True]) == 20
  assert comparison.first_where([10, 20], [False, False]) is None
  assert comparison.first_where([], []) is None
  assert comparison.first_where(range(1, 4), np.array([False, False, True])) == 3
  assert comparison.first_reaching([1, 2, 3], [0.1, 0.5, 0.4], 0.5) == 2  # >=: reached at 0.5
  assert comparison.first_reaching([1, 2], [np.nan, 0.4], 0.5) is None


def test_no_rows_is_an_error():
  with pytest.raises(ValueError, match="need 'eval_return' rows"):
    comparison.compare([], BASELINE)
