#!/usr/bin/env bash
# deploy/setup.sh — puts on this machine what coachq needs to build, test and
# run locally, and does nothing more when it is all there (well under 5 s).
#
#   1. Debian packages: compilers, the C libraries, redis-server, kcat, Java,
#      Maven, python3-venv, wrk (for tests/bench/throughput.sh). Checked with
#      dpkg-query; apt-get update and install run only when something is missing.
#   2. The Apache Kafka broker (3.9 line, KRaft) as jars from Maven Central,
#      from deploy/kafka/pom.xml into deploy/kafka/libs.
#   3. Apache Avro's tools jar, from deploy/avro/pom.xml into deploy/avro/libs.
#   4. A Python venv in deploy/.venv with deploy/requirements.txt (contract checks).
#   5. npm packages pinned by deploy/node/package.json and its lock file, into
#      deploy/.node (npm ci, offline from npm's cache once fetched): the
#      contract's linters and TypeScript generator (Spectral, Redocly CLI,
#      openapi-typescript, tsc), swagger-ui-dist (compiled into the gateway
#      for /docs) and puppeteer-core (drives Debian's Chromium in the Swagger
#      UI test; it downloads no browser).
#   6. A Python venv in deploy/.clients-venv with deploy/requirements-clients.txt
#      (openapi-python-client, which generates the client the contract tests use).
#   7. Kubernetes manifest tools into deploy/.k8s: kustomize (built from the
#      Go module proxy with the Go toolchain) and KEDA's CRDs (from the KEDA
#      Go module's zip), for the offline validation of deploy/k8s.
#
# Steps 2-7 keep a .stamp file with the hash of what they were made from and
# are redone only when it changes. Each step says what it did.
set -euo pipefail

DEPLOY_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT_DIR=$(dirname "$DEPLOY_DIR")

PACKAGES=(build-essential cmake ninja-build pkg-config clang-format librdkafka-dev libavro-dev
    libcurl4-openssl-dev libhiredis-dev libcivetweb-dev libcmocka-dev libjansson-dev
    libjwt-dev libssl-dev libxml2-dev libpcre2-dev libstemmer-dev uuid-dev redis-server kcat
    default-jre-headless maven python3-venv curl chromium nodejs npm cppcheck clang-tidy gcovr
    clang libclang-rt-14-dev wrk)

# Pinned tools of step 7.
KUSTOMIZE_VERSION=v5.8.2 # the newest that Go 1.26 builds (v5.8.3 needs Go 1.27)
KEDA_VERSION=v2.21.0
GO=${GO:-/usr/local/go/bin/go}

say() { printf 'setup: %s\n' "$*"; }
die() {
    printf 'setup: error: %s\n' "$*" >&2
    exit 1
}

# A Java >= 17 on PATH (Debian's openjdk-17 or another JDK) serves as well as
# default-jre-headless, which fresh machines do not have although they have Java.
java_ok() {
    command -v java >/dev/null 2>&1 || return 1
    local v
    v=$(java -version 2>&1 | sed -n '1s/.*version "\([0-9]*\).*/\1/p')
    [[ -n $v && $v -ge 17 ]]
}

# A Node.js >= 18 with npm on PATH (Debian's, or another build that bundles
# npm and would conflict with Debian's npm package) serves as well.
node_ok() {
    command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || return 1
    local v
    v=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null)
    [[ -n $v && $v -ge 18 ]]
}

install_packages() {
    local installed missing=() p
    installed=$(dpkg-query -W -f='${db:Status-Status} ${Package}\n' "${PACKAGES[@]}" 2>/dev/null |
        awk '$1 == "installed" { print $2 }') || true
    for p in "${PACKAGES[@]}"; do
        if grep -qxF "$p" <<<"$installed"; then
            continue
        fi
        if [[ $p == default-jre-headless ]] && java_ok; then
            continue
        fi
        if [[ $p == nodejs || $p == npm ]] && node_ok; then
            continue
        fi
        missing+=("$p")
    done
    if ((${#missing[@]} == 0)); then
        say "packages: all ${#PACKAGES[@]} present"
        return
    fi
    say "packages: installing ${missing[*]}"
    local sudo=()
    if ((EUID != 0)); then
        command -v sudo >/dev/null 2>&1 || die "not root and no sudo; install: ${missing[*]}"
        sudo=(sudo)
    fi
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -q
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends \
        "${missing[@]}"
    say "packages: installed ${missing[*]}"
}

# fetch_jars <what> <pom> <dest> [maven args...]: copies the pom's runtime
# dependencies into <dest> unless <dest>/.stamp holds the hash of the pom and args.
fetch_jars() {
    local what=$1 pom=$2 dest=$3
    shift 3
    local want
    want=$({
        cat "$pom"
        printf '%s\n' "$@"
    } | sha256sum | cut -d' ' -f1)
    if [[ -f $dest/.stamp && $(<"$dest/.stamp") == "$want" ]]; then
        say "$what: up to date ($(find "$dest" -name '*.jar' | wc -l) jars in ${dest#"$ROOT_DIR"/})"
        return
    fi
    local t0=$SECONDS
    rm -rf "$dest.tmp"
    # Maven 3.8 prints colour resets even in batch mode: keep its output for failures only.
    local out
    if ! out=$(mvn -q -B -Dstyle.color=never -f "$pom" dependency:copy-dependencies \
        -DoutputDirectory="$dest.tmp" -DincludeScope=runtime "$@" 2>&1); then
        printf '%s\n' "$out" >&2
        die "$what: maven could not fetch the jars of $pom"
    fi
    echo "$want" >"$dest.tmp/.stamp"
    rm -rf "$dest"
    mv "$dest.tmp" "$dest"
    say "$what: fetched $(find "$dest" -name '*.jar' | wc -l) jars into ${dest#"$ROOT_DIR"/}" \
        "in $((SECONDS - t0)) s"
}

# make_venv [<venv dir> <requirements file>]: deploy/.venv from deploy/requirements.txt by default.
make_venv() {
    local venv=${1:-$DEPLOY_DIR/.venv} req=${2:-$DEPLOY_DIR/requirements.txt} python=python3
    # Debian's interpreter is the one python3-venv is for; another python3 may come first on PATH.
    [[ -x /usr/bin/python3 ]] && python=/usr/bin/python3
    local want
    want=$({
        cat "$req"
        "$python" -c 'import sys; print(sys.executable, sys.version)'
    } | sha256sum | cut -d' ' -f1)
    if [[ -x $venv/bin/python && -f $venv/.stamp && $(<"$venv/.stamp") == "$want" ]]; then
        say "python venv: up to date (${venv#"$ROOT_DIR"/})"
        return
    fi
    local t0=$SECONDS
    rm -rf "$venv"
    "$python" -m venv "$venv" || die "python venv: $python -m venv failed"
    "$venv/bin/pip" install -q --disable-pip-version-check -r "$req" ||
        die "python venv: pip install -r $req failed"
    echo "$want" >"$venv/.stamp"
    say "python venv: created ${venv#"$ROOT_DIR"/} with $(grep -c '^[A-Za-z]' "$req") packages" \
        "in $((SECONDS - t0)) s"
}

# The npm tools: deploy/node/package.json and package-lock.json pin every
# package; npm ci installs exactly the lock into deploy/.node/node_modules.
fetch_node_tools() {
    local src=$DEPLOY_DIR/node dest=$DEPLOY_DIR/.node want
    want=$({
        cat "$src/package.json" "$src/package-lock.json"
        node --version
    } | sha256sum | cut -d' ' -f1)
    if [[ -f $dest/.stamp && $(<"$dest/.stamp") == "$want" && -d $dest/node_modules ]]; then
        say "node tools: up to date (deploy/.node)"
        return
    fi
    local t0=$SECONDS out
    rm -rf "$dest"
    mkdir -p "$dest"
    cp "$src/package.json" "$src/package-lock.json" "$dest/"
    # --ignore-scripts: no install script runs (puppeteer's would fetch a browser).
    if ! out=$(cd "$dest" && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --ignore-scripts --prefer-offline \
        --no-audit --no-fund --loglevel=error 2>&1); then
        printf '%s\n' "$out" >&2
        rm -rf "$dest"
        die "node tools: npm ci failed in deploy/.node"
    fi
    echo "$want" >"$dest/.stamp"
    say "node tools: installed $(ls "$dest/node_modules/.bin" | wc -l) commands into deploy/.node" \
        "in $((SECONDS - t0)) s"
}

# npm_install: deploy/node's locked packages into deploy/.node/node_modules.
npm_install() {
    local src=$DEPLOY_DIR/node dest=$DEPLOY_DIR/.node want
    want=$({
        cat "$src/package.json" "$src/package-lock.json"
        node --version
    } | sha256sum | cut -d' ' -f1)
    if [[ -f $dest/.stamp && $(<"$dest/.stamp") == "$want" ]]; then
        say "npm packages: up to date (deploy/.node)"
        return
    fi
    local t0=$SECONDS out
    rm -rf "$dest"
    mkdir -p "$dest"
    cp "$src/package.json" "$src/package-lock.json" "$dest/"
    # --ignore-scripts: no install script runs (puppeteer's would fetch a browser).
    if ! out=$(cd "$dest" && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --ignore-scripts --no-audit --no-fund 2>&1); then
        printf '%s\n' "$out" >&2
        die "npm packages: npm ci in deploy/.node failed"
    fi
    echo "$want" >"$dest/.stamp"
    say "npm packages: installed deploy/node/package-lock.json into deploy/.node in $((SECONDS - t0)) s"
}

# k8s_tools: kustomize and KEDA's CRDs into deploy/.k8s.
k8s_tools() {
    local dest=$DEPLOY_DIR/.k8s want
    want=$(printf '%s\n' "$KUSTOMIZE_VERSION" "$KEDA_VERSION" "$("$GO" version 2>&1)" | sha256sum | cut -d' ' -f1)
    if [[ -x $dest/bin/kustomize && -f $dest/.stamp && $(<"$dest/.stamp") == "$want" ]]; then
        say "k8s tools: up to date (deploy/.k8s: kustomize $KUSTOMIZE_VERSION, KEDA $KEDA_VERSION CRDs)"
        return
    fi
    [[ -x $GO ]] || die "k8s tools: no Go toolchain at $GO (set GO=/path/to/go)"
    local t0=$SECONDS out
    rm -rf "$dest.tmp"
    mkdir -p "$dest.tmp/bin" "$dest.tmp/keda"
    if ! out=$(GOBIN="$dest.tmp/bin" GOTOOLCHAIN=local "$GO" install \
        "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION" 2>&1); then
        printf '%s\n' "$out" >&2
        die "k8s tools: go install kustomize $KUSTOMIZE_VERSION failed"
    fi
    curl -sSfL --retry 2 -o "$dest.tmp/keda.zip" \
        "${GOPROXY_URL:-https://proxy.golang.org}/github.com/kedacore/keda/v2/@v/$KEDA_VERSION.zip" ||
        die "k8s tools: could not fetch the KEDA $KEDA_VERSION module zip"
    python3 - "$dest.tmp/keda.zip" "$dest.tmp/keda" <<'PY' || die "k8s tools: no CRDs in the KEDA zip"
import os, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    names = [n for n in z.namelist() if "/config/crd/bases/" in n and n.endswith(".yaml")]
    if not names:
        sys.exit(1)
    for n in names:
        with open(os.path.join(sys.argv[2], os.path.basename(n)), "wb") as out:
            out.write(z.read(n))
PY
    rm -f "$dest.tmp/keda.zip"
    echo "$want" >"$dest.tmp/.stamp"
    rm -rf "$dest"
    mv "$dest.tmp" "$dest"
    say "k8s tools: kustomize $KUSTOMIZE_VERSION and KEDA $KEDA_VERSION CRDs into deploy/.k8s" \
        "in $((SECONDS - t0)) s"
}

install_packages
fetch_jars "kafka broker" "$DEPLOY_DIR/kafka/pom.xml" "$DEPLOY_DIR/kafka/libs"
fetch_jars "avro tools" "$DEPLOY_DIR/avro/pom.xml" "$DEPLOY_DIR/avro/libs" -DexcludeTransitive=true
make_venv
fetch_node_tools
make_venv "$DEPLOY_DIR/.clients-venv" "$DEPLOY_DIR/requirements-clients.txt"
k8s_tools
