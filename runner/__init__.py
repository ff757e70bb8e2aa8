"""The `predicto` command and the embedded warehouse server it runs."""
