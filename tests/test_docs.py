"""Every ```python block of README.md and docs/**/*.md runs: the blocks of one file in
order, in one fresh module, from a temporary working directory (so what they write,
e.g. outputs/quickstart, lands there). Shell blocks are not run; the other docs
(BUILD_NOTES.md, CHANGELOG.md, the results READMEs) hold no python blocks.

The example agent of docs/writing_an_agent.md (its block that defines `make`) must
also learn point_mass through its model, with the bar it always had."""

import glob
import os
import re
import sys
import types

import numpy as np
import pytest

from mbrl_jax import envs
from tests.helpers import random_returns, train_two_seeds

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = sorted([os.path.join(REPO, 'README.md')] +
              glob.glob(os.path.join(REPO, 'docs', '**', '*.md'), recursive=True))
BLOCK = re.compile(r'^```python\n(.*?)^```', re.S | re.M)
AGENT_DOC = os.path.join(REPO, 'docs', 'writing_an_agent.md')
OTHER_DOCS = sorted([os.path.join(REPO, 'BUILD_NOTES.md'), os.path.join(REPO, 'CHANGELOG.md')] +
                    glob.glob(os.path.join(REPO, 'experiments', 'results', '*', 'README.md')))


def python_blocks(path):
  return BLOCK.findall(open(path).read())


def run_blocks(path, only=None):
  """Executes the file's python blocks in order (or block number `only`) in one new
  module; returns it. Each block is compiled under the name `<file>:block<number>`,
  so a traceback says which block failed."""
  name = 'doc_' + re.sub(r'\W', '_', os.path.relpath(path, REPO).removesuffix('.md'))
  module = types.ModuleType(name)
  sys.modules[name] = module  # dataclasses (flax.struct) look their module up
  try:
    for i, block in enumerate(python_blocks(path), 1):
      if only is None or i == only:
        code = compile(block, f'{os.path.relpath(path, REPO)}:block{i}', 'exec')
        exec(code, module.__dict__)  # noqa: S102 -- the docs' own examples
  finally:
    del sys.modules[name]
  return module


def agent_block_number():
  numbers = [i for i, block in enumerate(python_blocks(AGENT_DOC), 1)
             if '\ndef make(config, env)' in block]
  assert len(numbers) == 1, 'one block of docs/writing_an_agent.md defines make'
  return numbers[0]


def test_every_doc_is_found_and_every_python_block_is_closed():
  assert os.path.join(REPO, 'README.md') in DOCS and AGENT_DOC in DOCS
  for path in DOCS:
    text = open(path).read()
    assert text.count('```') % 2 == 0, f'{path}: an unclosed code block'
    opened = re.findall(r'^```(\w*)$', text, re.M)[::2]
    assert all(lang in ('python', 'bash', 'text', '') for lang in opened), (path, opened)


def test_only_readme_and_docs_hold_python_blocks():
  assert os.path.join(REPO, 'BUILD_NOTES.md') in OTHER_DOCS
  for path in OTHER_DOCS:
    assert not python_blocks(path), f'{path}: python blocks belong in docs/, where they run'


def test_the_docs_send_no_reader_to_issue_numbers_or_shared():
  for path in DOCS + OTHER_DOCS:
    text = open(path).read()
    assert not re.search(r'\b[Ii]ssues? \d+|#\d+\b', text), path
    assert '../shared' not in text, path


@pytest.mark.parametrize('path', DOCS, ids=lambda p: os.path.relpath(p, REPO))
def test_the_python_blocks_run(path, tmp_path, monkeypatch):
  if not python_blocks(path):
    pytest.skip('no python blocks')
  monkeypatch.chdir(tmp_path)
  run_blocks(path)


def test_the_example_agent_learns_point_mass_through_its_model(tmp_path, monkeypatch):
  """2 seeds, 3 chunks of 200 real steps (the first random), 20 evaluation episodes.
  Measured: -58.4 (K = 0, both seeds) -> -18.8, -9.8; the best mean of 20
  random-action episodes in 50 draws is -62.7 on this task (100-step episodes)."""
  monkeypatch.chdir(tmp_path)
  module = run_blocks(AGENT_DOC, only=agent_block_number())
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


def anchors(path):
  """The #anchors of a markdown file's headings, as GitHub makes them."""
  headings = re.findall(r'^#+ (.*)$', open(path).read(), re.M)
  return {re.sub(r'[^\w\- ]', '', h.strip().lower()).replace(' ', '-') for h in headings}


def test_every_relative_link_points_at_a_file_and_heading():
  """Links between the docs and to experiments/results/ stay right as files move."""
  broken = []
  for path in DOCS + OTHER_DOCS:
    for target in re.findall(r'\]\(([^)\s]+)\)', open(path).read()):
      if re.match(r'[a-z]+:', target):
        continue
      file, _, anchor = target.partition('#')
      linked = os.path.join(os.path.dirname(path), file) if file else path
      if not os.path.exists(linked) or (anchor and anchor not in anchors(linked)):
        broken.append((os.path.relpath(path, REPO), target))
  assert not broken, broken
