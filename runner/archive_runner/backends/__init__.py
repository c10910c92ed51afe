"""Sources and destinations: one small interface (base.py), one module per kind."""
