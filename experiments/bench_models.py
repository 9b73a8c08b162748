"""Model training and rollout throughput, and training as a fraction of a matmul
roofline measured in the same run; prints JSON and writes it to
outputs/bench_models/bench_models.json (--out).

Defaults are MBPO's halfcheetah sizes: 17 obs + 6 act, 7 Gaussian members of
4 x 200 (swish), batch 256 per member; rollouts of 400 start states x 15 steps
with TS1 and a tanh-linear policy.

- train_samples_per_s: member-samples per second of the jitted update step
  (forward, backward, AdamW) in a lax.scan over pre-drawn batches.
- roofline_samples_per_s: the same count through a bare chain of batched
  matmuls with exactly the update's shapes and FLOPs (the forward layers, then
  for each layer the weight-gradient matmul and, above the input layer, the
  input-gradient matmul), no activations, no optimizer.
- roofline_fraction: train / roofline.
- fit_samples_per_s: the whole `Trainer.fit` (holdout split, bootstrap,
  epochs, holdout scoring), epochs x training items x members per second.
- rollout_transitions_per_s: model transitions per second of `models.rollout`.

  python experiments/bench_models.py

To refresh the committed record, pass
--out=experiments/results/bench_models/bench_models_cpu.json.
"""


from absl import app, flags

import common

flags.DEFINE_integer('obs_size', 17, 'Observation size.')
flags.DEFINE_integer('action_size', 6, 'Action size.')
flags.DEFINE_integer('members', 7, 'Ensemble members.')
flags.DEFINE_integer('elites', 5, 'Elites (TS1 groups).')
flags.DEFINE_integer('layers', 4, 'Hidden layers.')
flags.DEFINE_integer('width', 200, 'Hidden width.')
flags.DEFINE_integer('batch', 256, 'Batch per member.')
flags.DEFINE_integer('steps', 200, 'Update steps timed.')
flags.DEFINE_integer('fit_items', 25_600, 'Transitions in the dataset for fit().')
flags.DEFINE_integer('fit_epochs', 3, 'Epochs of fit() timed.')
flags.DEFINE_integer('rollouts', 400, 'Rollout start states.')
flags.DEFINE_integer('horizon', 15, 'Rollout horizon.')
common.define_repeats()
common.define_out('outputs/bench_models/bench_models.json')
FLAGS = flags.FLAGS


def main(argv):
  del argv
  import jax
  import jax.numpy as jnp
  from mbrl_jax import data, models

  obs, act, members, batch, steps = (FLAGS.obs_size, FLAGS.action_size, FLAGS.members,
                                     FLAGS.batch, FLAGS.steps)
  config = models.default_config()
  config.update(dict(num_members=members, num_elites=FLAGS.elites, num_layers=FLAGS.layers,
                     width=FLAGS.width, batch_size=batch, max_epochs=FLAGS.fit_epochs,
                     patience=FLAGS.fit_epochs + 1))
  ensemble = models.Ensemble(config, obs, act)
  trainer = models.Trainer(ensemble)
  state = trainer.init(jax.random.PRNGKey(0))
  in_size, out_size = obs + act, ensemble.target_size
  kx, ky = jax.random.split(jax.random.PRNGKey(1))
  xs = jax.random.normal(kx, (steps, members, batch, in_size))
  ys = jax.random.normal(ky, (steps, members, batch, out_size))
  terminal = jnp.zeros((members, batch))

  @jax.jit
  def train(params, opt_state):
    def body(carry, xy):
      params, opt_state = carry
      params, opt_state, losses, _ = trainer.update(params, opt_state, xy[0], xy[1], terminal)
      return (params, opt_state), losses.sum()
    return jax.lax.scan(body, (params, opt_state), (xs, ys))[1]

  repeats = FLAGS.repeats
  train_s = common.best_time(train, state.model.params, state.opt_state, repeats=repeats)

  # The roofline: the same batched matmuls, nothing else.
  sizes = [in_size] + [FLAGS.width] * FLAGS.layers + [2 * out_size]
  weights = [0.01 * jnp.ones((members, a, b)) for a, b in zip(sizes[:-1], sizes[1:])]

  @jax.jit
  def roofline(weights):
    def body(total, xy):
      acts = [xy[0]]
      for w in weights:                                    # forward
        acts.append(jnp.einsum('mbi,mio->mbo', acts[-1], w))
      grad_out = acts[-1]
      checksum = 0.0
      for i in reversed(range(len(weights))):              # backward
        checksum += jnp.einsum('mbi,mbo->mio', acts[i], grad_out).sum()
        if i > 0:
          grad_out = jnp.einsum('mbo,mio->mbi', grad_out, weights[i])
      return total + checksum, None
    return jax.lax.scan(body, 0.0, (xs, ys))[0]

  roofline_s = common.best_time(roofline, weights, repeats=repeats)
  flops = 3 * 2 * members * batch * sum(a * b for a, b in zip(sizes[:-1], sizes[1:])) * steps

  # fit(): the whole training call on a dataset of fit_items transitions.
  n = FLAGS.fit_items
  keys = jax.random.split(jax.random.PRNGKey(2), 3)
  zeros = jnp.zeros(n)
  dataset = data.Transition(obs=jax.random.normal(keys[0], (n, obs)),
                            action=jax.random.uniform(keys[1], (n, act), minval=-1, maxval=1),
                            reward=zeros, next_obs=jax.random.normal(keys[2], (n, obs)),
                            done=zeros, truncation=zeros)
  fit = jax.jit(trainer.fit)
  fit_s = common.best_time(fit, state, dataset, jnp.ones(n, bool), jax.random.PRNGKey(3),
                           repeats=repeats)
  _, fit_metrics = fit(state, dataset, jnp.ones(n, bool), jax.random.PRNGKey(3))
  fit_samples = int(fit_metrics['epochs']) * int(fit_metrics['num_train']) * members

  # Rollouts: TS1 through the elites with a tanh-linear policy.
  policy_w = 0.1 * jax.random.normal(jax.random.PRNGKey(4), (obs, act))
  starts = jax.random.normal(jax.random.PRNGKey(5), (FLAGS.rollouts, obs))
  reward_fn = lambda o, a, n: -jnp.sum(a**2, -1)

  @jax.jit
  def roll(model, key):
    out = models.rollout(ensemble, model, key, starts, FLAGS.horizon, 'ts1',
                         policy=lambda o, k: jnp.tanh(o @ policy_w), reward_fn=reward_fn)
    return out.returns

  roll_s = common.best_time(roll, state.model, jax.random.PRNGKey(6), repeats=repeats)
  samples = steps * members * batch
  result = {
      'device': str(jax.devices()[0]), 'jax': jax.__version__,
      'shapes': {'obs': obs, 'action': act, 'members': members, 'layers': FLAGS.layers,
                 'width': FLAGS.width, 'batch_per_member': batch},
      'train_samples_per_s': round(samples / train_s),
      'roofline_samples_per_s': round(samples / roofline_s),
      'roofline_fraction': round(roofline_s / train_s, 3),
      'roofline_gflops_per_s': round(flops / roofline_s / 1e9, 2),
      'train_gflops_per_s': round(flops / train_s / 1e9, 2),
      'fit_samples_per_s': round(fit_samples / fit_s),
      'fit_epochs': int(fit_metrics['epochs']),
      'rollout': {'start_states': FLAGS.rollouts, 'horizon': FLAGS.horizon,
                  'propagation': 'ts1'},
      'rollout_transitions_per_s': round(FLAGS.rollouts * FLAGS.horizon / roll_s),
  }
  from mbrl_jax.harness import metrics
  metrics.report(result, FLAGS.out)


if __name__ == '__main__':
  app.run(main)
