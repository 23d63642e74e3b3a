"""The ``relpredict`` command line: one Typer app per noun (graph, query, models, workflow, job,
connector, serve), each command a thin shell that parses options, calls the library (workflows and
jobs through :mod:`relpredict.service`, as the REST API does) and renders the result with Rich."""
