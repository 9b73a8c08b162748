"""Config checks: the one-line ValueError a bad config value deserves.

On the bottom floor (imports nothing of the package), so models, planners and
agents all use the same checks.
"""


def check(condition: bool, message: str) -> None:
  """Raise the one-line ValueError a bad config value deserves."""
  if not condition:
    raise ValueError(message)


def check_positive(config, *names: str) -> None:
  for name in names:
    value = config[name]
    check(isinstance(value, int) and value >= 1,
          f'config.{name} must be an integer >= 1, got {value!r}.')


def check_choice(config, name: str, allowed) -> None:
  check(config[name] in allowed,
        f'config.{name} must be one of {", ".join(map(repr, allowed))}; got {config[name]!r}.')


def check_preset(agent: str, name: str, size: str, presets, sizes) -> None:
  """A preset's name, one of the agent's `PRESETS`, and its size, one of `SIZES`."""
  check(name in presets, f'Unknown {agent} preset {name!r}; valid: {", ".join(presets)}.')
  check(size in sizes, f'Unknown {agent} size {size!r}; valid: {", ".join(sizes)}.')
