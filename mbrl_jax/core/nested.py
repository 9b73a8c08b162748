"""Nested configs (dicts, ConfigDicts, their JSON) as flat {dotted key: value} maps:
the one way the package compares two of them."""

from typing import Any, Dict, List

MISSING = '<missing>'


def is_section(value) -> bool:
  """A dict or ConfigDict (anything with items)."""
  return hasattr(value, 'items')


def flatten(config, prefix: str = '') -> Dict[str, Any]:
  """{dotted key: value} of a nested dict or ConfigDict."""
  flat = {}
  for key, value in config.items():
    if is_section(value):
      flat.update(flatten(value, f'{prefix}{key}.'))
    else:
      flat[f'{prefix}{key}'] = value
  return flat


def value_differences(a, b) -> List[str]:
  """The dotted keys whose values differ between two nested configs (a key only one
  of them has counts as differing)."""
  fa, fb = flatten(a), flatten(b)
  return [k for k in sorted(set(fa) | set(fb)) if fa.get(k, MISSING) != fb.get(k, MISSING)]
