"""The ground floor: what every other package may use and what imports nothing of the project.

errors (one line a person can act on), progress (the progress line), files (written whole or not
at all), cli (the command line every script shares) and config (the YAML config mechanism).
"""
