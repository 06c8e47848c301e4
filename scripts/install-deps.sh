#!/usr/bin/env bash
# Installs the Debian packages inferd needs. Usage: scripts/install-deps.sh [GROUP...]
#   build  compilers and -dev libraries          run    what the server and set-up need
#   test   build + run + what the test suite uses (default)
#   bench  test + load generator and baseline server
#   all    everything above
# Already-installed packages are skipped, so this is cheap to call every time.
set -euo pipefail

build=(build-essential cmake pkg-config libmicrohttpd-dev libcjson-dev libstb-dev libtorch-dev
       libjpeg62-turbo-dev libpng-dev libwebp-dev libtiff-dev libheif-dev)
# libopenblas0-openmp: Debian's libtorch calls the reference BLAS for aten::mm
# otherwise, which makes ConvNeXt/ViT forwards ~20x slower (an eager
# ConvNeXt-Tiny forward 3.39 s -> 0.15 s with it).
run=(python3 python3-torch python3-torchvision python3-pil python3-numpy curl ca-certificates libopenblas0-openmp)
# libheif-examples (heif-enc/heif-convert: HEIC/AVIF test files and their
# reference decode), imagemagick (TIFF and BMP variants), webp (cwebp),
# netpbm (PNM variants).
test=(clang libclang-rt-14-dev valgrind procps libheif-examples imagemagick webp netpbm)
bench=(wrk gunicorn python3-flask)

groups=("${@:-test}")
wanted=()
for g in "${groups[@]}"; do
  case "$g" in
    build) wanted+=("${build[@]}") ;;
    run) wanted+=("${run[@]}") ;;
    test) wanted+=("${build[@]}" "${run[@]}" "${test[@]}") ;;
    bench) wanted+=("${build[@]}" "${run[@]}" "${test[@]}" "${bench[@]}") ;;
    all) wanted+=("${build[@]}" "${run[@]}" "${test[@]}" "${bench[@]}") ;;
    *) echo "install-deps: unknown group '$g' (build, run, test, bench, all)" >&2; exit 2 ;;
  esac
done

missing=()
for p in $(printf '%s\n' "${wanted[@]}" | sort -u); do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
