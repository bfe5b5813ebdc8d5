"""`python -m perfops.cli` runs the CLI (used by tests that spawn processes)."""

from perfops.cli.app import main

main()
