# Sourced by the scripts here: `upstream_setup PACKAGE "$@"` reads GIT_DIR [plain|poolguard] and sets
# repo (this repository), git_dir, mode, version (PACKAGE's version in the lockfile) and work (a
# temporary directory outside the repository, removed on exit).
upstream_setup() {
  local package="$1"; shift
  repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  git_dir="${1:?usage: $(basename "$0") GIT_DIR [plain|poolguard]}"
  mode="${2:-poolguard}"
  version="$(node -p "require('$repo/node_modules/$package/package.json').version")"
  work="$(mktemp -d "${TMPDIR:-/tmp}/$package-tests.XXXXXX")"
  trap 'rm -rf "$work"' EXIT
}
