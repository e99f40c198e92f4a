"""The operator's floor: what a person or a CI job runs, on top of the libraries it composes.

The ``photostream`` command (:mod:`operate.cli`, one module per command group in
``operate/commands/``), the local stack launcher (``stack/``), the schema bootstrap
(``provision/`` with its CQL migrations), Kafka tooling for operators (``ops/``), the
supervisor and its table of services, and the production safety checks. Nothing below
imports this package: the libraries (``schemas``, ``infra``, ``sinks``, ``processors``,
``api``, ``producers``) run without it, as the FastAPI template and faust keep their CLI
on top.

Why ``operate``: it names the role (operating photostream) rather than a mechanism, and
the obvious short names are taken: ``ops`` is one of its own sub-packages, ``operator``
is the standard library's, and ``photostream`` would read as the whole project.
"""
