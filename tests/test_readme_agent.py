"""The complete model-based agent that README's "Writing an agent" shows: this test
runs that very code block, so the example cannot drift from the package."""

import importlib.util
import os
import re

import numpy as np

from mbrl_jax import envs
from tests.helpers import random_returns, train_two_seeds

README = os.path.join(os.path.dirname(__file__), '..', 'README.md')


def readme_agent(tmp_path):
  text = open(README).read()
  start = text.index('## Writing an agent')
  section = text[start:text.index('\n## ', start)]  # up to the next section
  blocks = re.findall(r'```python\n(.*?)```', section, re.S)
  assert len(blocks) == 1, 'one python block in "Writing an agent"'
  path = tmp_path / 'linear_model_based.py'
  path.write_text(blocks[0])
  spec = importlib.util.spec_from_file_location('linear_model_based', path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def test_the_readme_agent_learns_point_mass_through_its_model(tmp_path):
  """2 seeds, 3 chunks of 200 real steps (the first random), 20 evaluation episodes.
  Measured: -58.4 (K = 0, both seeds) -> -18.8, -9.8; the best mean of 20
  random-action episodes in 50 draws is -62.7 on this task (100-step episodes)."""
  module = readme_agent(tmp_path)
  env = envs.make('point_mass')
  config = module.default_config()
  config.model.update(dict(num_members=2, num_elites=2, width=32, num_layers=2,
                           max_epochs=20))
  untrained, trained, metrics, state = train_two_seeds(module.make(config, env), env,
                                                       chunks=3)
  best_random_mean = random_returns(env).reshape(50, 20).mean(1).max()
  assert (trained > best_random_mean + 30).all(), (untrained, trained, best_random_mean)
  assert (trained > untrained + 30).all(), (untrained, trained)
  assert np.isfinite(metrics['model_holdout_mse']).all()
  np.testing.assert_array_equal(state.env_steps, [600, 600])
