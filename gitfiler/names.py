"""Names gitfiler gives things in a repository. A module of constants only: the hooks'
fast path imports it on every start, before deciding whether there is anything to do."""

# A registry file is its artifact's path plus this suffix (`registry.SUFFIX` is the same value).
REGISTRY_SUFFIX = ".filer"

# The environment variable through which a shell asks for completions (`git filer completion`).
COMPLETE_VAR = "_GIT_FILER_COMPLETE"
