"""REST APIs through dlt's `rest_api_source`."""
