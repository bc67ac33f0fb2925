"""The IPython face: everything that needs a shell (magics, %qwencmd, the cell transformer,
option parsing, {name} filling, code cells, option checks), and loading it into a shell
(``extension.py``). ``magics_of(shell)`` / ``session_of(shell)`` find the loaded extension."""

from qwen_magic.ipython.extension import magics_of, session_of

__all__ = ["magics_of", "session_of"]
