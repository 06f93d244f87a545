"""Fast unit tests of gitfiler's pure parts: no subprocess, no git repository."""
