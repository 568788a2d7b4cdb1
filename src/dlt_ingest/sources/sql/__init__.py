"""SQL sources through dlt's `sql_table`: the shared base, the type contract and one module per dialect."""
