"""What every stage shares: the warehouse and its snapshots, settings, errors, SQL quoting,
the models database, dbt, published facts.

The rule (tests/test_layout.py checks it): modules here import nothing of the product outside
`svit.core`; stages (`ingest`, `svit.build`, `svit.export`, `svit.mix`, `svit.stats`,
`svit.sql`, `svit.verify`, `svit.status`) import only the core and themselves; only the CLI
(`svit.cli`, `svit.demo`, `svit.workflows`) imports stages; `synth` imports only the published facts.
"""
