"""Ways in: the command line, output formats, flake8, baseline, docs, --init."""
