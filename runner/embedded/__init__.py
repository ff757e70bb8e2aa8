"""The embedded warehouse: chDB served over the ClickHouse HTTP interface."""
