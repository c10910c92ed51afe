"""The plugin's commands, one module per area; each imports only click at module level."""
