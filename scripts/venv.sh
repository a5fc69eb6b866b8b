# Sourced by the scripts: the project's virtualenv (DGAE_VENV, default .venv in the repository) first on PATH.
# scripts/setup.sh makes it; the other scripts need it made.
DGAE_VENV="${DGAE_VENV:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.venv}"
export DGAE_VENV
export PATH="$DGAE_VENV/bin:$PATH"
