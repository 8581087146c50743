"""Operations endpoints: ``/healthz`` (the process is up), ``/readyz`` (it can serve:
database, migrations, key) and ``/metrics`` (Prometheus), outside the public API.

Importing this package imports nothing else: the middleware imports
:mod:`api.operations.metrics` early, before the routes and their dependencies."""
