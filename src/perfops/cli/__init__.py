"""The command line: Typer app, Rich output, and the single error boundary."""
