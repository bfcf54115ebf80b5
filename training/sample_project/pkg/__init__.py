"""A small package the tests point punie-lsp and ty at."""
