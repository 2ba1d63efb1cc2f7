"""The lint loop: screen, parse, metadata, rules, fix rounds, cache, parallel runs, edits."""
