#!/bin/sh
# Prints the path of a CPython X.Y interpreter (`scripts/find_python.sh 3.12`), looking
# where this project's machines keep them: pyenv's versions, then PATH, then uv's.
# Exits 1 with an install hint when none answers. Used by the Makefile.
want="${1:?usage: find_python.sh X.Y}"
ok() { [ -x "$1" ] && [ "$("$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" = "$want" ]; }
root="${PYENV_ROOT:-$HOME/.pyenv}"
for py in $(ls -d "$root"/versions/"$want".*/bin/python"$want" 2>/dev/null | sort -V -r) \
          "$(command -v "python$want" 2>/dev/null)" "/usr/local/bin/python$want" "/usr/bin/python$want" \
          "$(uv python find "$want" 2>/dev/null)"; do
  if [ -n "$py" ] && ok "$py"; then echo "$py"; exit 0; fi
done
echo "find_python.sh: no Python $want here. Install one: 'pyenv install $want' (or apt/uv), then run make again." >&2
exit 1
