"""`python -m dlt_ingest` is `ingest`."""

from dlt_ingest.cli.app import main

if __name__ == "__main__":
    main()
