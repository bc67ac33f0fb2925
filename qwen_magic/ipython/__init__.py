"""The IPython face: everything that needs a shell (magics, %qwencmd, the cell transformer,
option parsing, {name} filling, code cells, option checks)."""
