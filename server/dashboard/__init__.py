"""The command-center dashboard: static files (plain ES modules, no build step) and its small config endpoint."""
