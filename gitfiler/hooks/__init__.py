"""Git hooks, all in one package.

- `entry`: what `git filer hook NAME` runs (no click; imported on every hook's fast path).
- `triggers`: the one decision "is there anything for this hook to do?", from which the
  shims' shell fast path is generated and which the entry checks again in Python.
- `shims`: the generator of the POSIX sh shims `install` writes (the repository's top-level
  `hooks/` folder holds reference copies, kept equal to it by a test).
- `install`: install and uninstall the shims, chaining hooks that are not ours.
- One module per behaviour: `post_commit`, `pre_push`, `hydrate` (post-checkout, post-merge,
  post-rewrite). They never import each other; what they share is in the sync engine.

This file imports nothing: `git filer hook` must start in the time of a bare Python.
"""
