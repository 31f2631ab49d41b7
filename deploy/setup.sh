#!/usr/bin/env bash
# deploy/setup.sh — puts on this machine what coachq needs to build, test and
# run locally, and does nothing more when it is all there (well under 5 s).
#
#   1. Debian packages: compilers, the C libraries, redis-server, kcat, Java,
#      Maven, python3-venv. Checked with dpkg-query; apt-get update and
#      install run only when something is missing.
#   2. The Apache Kafka broker (3.9 line, KRaft) as jars from Maven Central,
#      from deploy/kafka/pom.xml into deploy/kafka/libs.
#   3. Apache Avro's tools jar, from deploy/avro/pom.xml into deploy/avro/libs.
#   4. A Python venv in deploy/.venv with deploy/requirements.txt (contract checks).
#
# Steps 2-4 keep a .stamp file with the hash of what they were made from and
# are redone only when it changes. Each step says what it did.
set -euo pipefail

DEPLOY_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT_DIR=$(dirname "$DEPLOY_DIR")

PACKAGES=(build-essential cmake ninja-build pkg-config clang-format librdkafka-dev libavro-dev
    libcurl4-openssl-dev libhiredis-dev libcivetweb-dev libcmocka-dev libjansson-dev
    libjwt-dev libssl-dev libxml2-dev uuid-dev redis-server kcat default-jre-headless maven python3-venv
    curl clang libclang-rt-14-dev)

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

make_venv() {
    local venv=$DEPLOY_DIR/.venv req=$DEPLOY_DIR/requirements.txt python=python3
    # Debian's interpreter is the one python3-venv is for; another python3 may come first on PATH.
    [[ -x /usr/bin/python3 ]] && python=/usr/bin/python3
    local want
    want=$({
        cat "$req"
        "$python" -c 'import sys; print(sys.executable, sys.version)'
    } | sha256sum | cut -d' ' -f1)
    if [[ -x $venv/bin/python && -f $venv/.stamp && $(<"$venv/.stamp") == "$want" ]]; then
        say "python venv: up to date (deploy/.venv)"
        return
    fi
    local t0=$SECONDS
    rm -rf "$venv"
    "$python" -m venv "$venv" || die "python venv: $python -m venv failed"
    "$venv/bin/pip" install -q --disable-pip-version-check -r "$req" ||
        die "python venv: pip install -r $req failed"
    echo "$want" >"$venv/.stamp"
    say "python venv: created deploy/.venv with $(grep -c '^[A-Za-z]' "$req") packages" \
        "in $((SECONDS - t0)) s"
}

install_packages
fetch_jars "kafka broker" "$DEPLOY_DIR/kafka/pom.xml" "$DEPLOY_DIR/kafka/libs"
fetch_jars "avro tools" "$DEPLOY_DIR/avro/pom.xml" "$DEPLOY_DIR/avro/libs" -DexcludeTransitive=true
make_venv
