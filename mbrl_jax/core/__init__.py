"""The bottom floor: the shared vocabulary (types), return arithmetic, config checks
and the non-finite guards. It imports nothing else of the package."""
