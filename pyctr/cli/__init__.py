"""The command line: a thin typer shell over the engine (the only place that prints or exits)."""
