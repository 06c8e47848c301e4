# inferd container image: an HTTP image-classification server (TorchScript
# DenseNet-121 through libtorch), see README.md and docs/deploy.md.
#
#   docker build -t inferd .                        # WEIGHTS=auto
#   docker build --build-arg WEIGHTS=seeded -t inferd .
#   docker run --rm -p 5000:5000 inferd             # serves on :5000
#   docker run --rm inferd --help                   # any inferd flag works
#
# Build arguments:
#   WEIGHTS  pretrained  torchvision's ImageNet weights (the build needs internet)
#            seeded      offline, deterministic stand-in weights: NOT real
#                        classifications (calibrated on data/)
#            auto        (default) pretrained when the download works, else
#                        seeded with a loud warning (build log, server log;
#                        the file /app/models/WEIGHTS says which; run.sh
#                        stamps it into the label org.inferd.weights)
#   SEED     seed of the seeded weights (default 0)
#   BASE     base image of every stage (default debian:bookworm-slim)
#
# Stages: deps (compilers, libtorch, python3-torch) -> build (binary + the
# shared libraries it loads) and model (exported TorchScript file) -> runtime
# (debian:bookworm-slim + those files only).  The build context must hold
# imagenet_class_index.json (scripts/setup.sh --class-index-only puts it
# there; run.sh does that); without it the model stage downloads it.
# Works with the classic builder and BuildKit alike; where the engine has no
# bridge network (dockerd --bridge=none) build with `--network host`.

ARG BASE=debian:bookworm-slim

# ---------------------------------------------------------------- deps
FROM ${BASE} AS deps
ENV DEBIAN_FRONTEND=noninteractive
# The packages of the base image, recorded before anything is installed:
# the build stage leaves their libraries out of the runtime copy.
RUN dpkg-query -W -f '${Package}\n' | sort > /base-packages.txt
# scripts/install-deps.sh holds the project's one package list.
COPY scripts/install-deps.sh /tmp/install-deps.sh
RUN /tmp/install-deps.sh build run && rm -rf /var/lib/apt/lists/*

# ---------------------------------------------------------------- build
FROM deps AS build
WORKDIR /src
# The whole context minus .dockerignore (build dirs, models, tests, docs...).
COPY . .
# -Werror is for the test suite (scripts/test.sh); a release image should not
# fail to build on a new compiler warning.
RUN cmake -S . -B build -DBUILD_TESTING=OFF -DCMAKE_BUILD_TYPE=Release -DINFERD_WERROR=OFF >/dev/null \
 && cmake --build build -j"$(nproc)" --target inferd inferd-classify \
 && strip build/inferd build/inferd-classify \
 && ./build/inferd --version
# The runtime libraries: exactly the shared-library closure of the binaries
# (ldd), minus what the base image already has (glibc, libstdc++, zlib...),
# copied into /usr/lib/inferd with their copyright files and a manifest of the
# Debian packages they come from.  This is ~300 MB less than installing the
# libtorch1.13 package, whose dependencies also pull in Mesa/LLVM, Qt data,
# GDAL/PROJ data and ICU data that libtorch never loads for inference.
RUN set -eu; \
    out=/rootfs/usr/lib/inferd; mkdir -p "$out" /rootfs/usr/share/doc /rootfs/etc/ld.so.conf.d; \
    echo /usr/lib/inferd > /rootfs/etc/ld.so.conf.d/inferd.conf; \
    { ldd build/inferd; ldd build/inferd-classify; } | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}' | sort -u > /tmp/libs; \
    : > /tmp/pkgs; \
    while read -r soname path; do \
      real=$(readlink -f "$path"); \
      pkg=$(dpkg -S "$real" 2>/dev/null || dpkg -S "/usr${real#/usr}" 2>/dev/null || dpkg -S "${real#/usr}" 2>/dev/null || dpkg -S "$(basename "$real")" 2>/dev/null || true); \
      pkg=$(printf '%s\n' "$pkg" | head -n1 | cut -d: -f1); \
      [ -n "$pkg" ] || { echo "no package owns $real ($soname)" >&2; exit 1; }; \
      if grep -qx "$pkg" /base-packages.txt; then continue; fi; \
      cp -L "$path" "$out/$soname"; \
      echo "$pkg" >> /tmp/pkgs; \
    done < /tmp/libs; \
    for pkg in $(sort -u /tmp/pkgs); do \
      dpkg-query -W -f '${Package} ${Version}\n' "$pkg" >> "$out/PACKAGES"; \
      if [ -f "/usr/share/doc/$pkg/copyright" ]; then mkdir -p "/rootfs/usr/share/doc/$pkg"; cp "/usr/share/doc/$pkg/copyright" "/rootfs/usr/share/doc/$pkg/"; fi; \
    done; \
    strip --strip-unneeded "$out"/*.so* 2>/dev/null || true; \
    mkdir -p /rootfs/usr/local/bin; cp build/inferd build/inferd-classify /rootfs/usr/local/bin/; \
    echo "runtime libraries: $(ls "$out" | wc -l) files, $(du -sm "$out" | cut -f1) MB, from $(wc -l < "$out/PACKAGES") packages"

# ---------------------------------------------------------------- model
FROM deps AS model
ARG WEIGHTS=auto
ARG SEED=0
WORKDIR /src
COPY scripts/export_model.py scripts/reference.py scripts/
COPY data/ data/
# The class index is git-ignored; the wildcard makes it optional here (the
# next step downloads it when the context lacks it).
COPY config.json imagenet_class_index.jso[n] ./
RUN set -eu; \
    if [ ! -s imagenet_class_index.json ]; then \
      echo "WARNING: imagenet_class_index.json is not in the build context (run scripts/setup.sh --class-index-only); downloading it" >&2; \
      python3 -c 'import urllib.request,sys; urllib.request.urlretrieve(sys.argv[1], "imagenet_class_index.json")' \
        https://s3.amazonaws.com/deep-learning-models/image-models/imagenet_class_index.json \
      || { echo "ERROR: no imagenet_class_index.json: run scripts/setup.sh --class-index-only before docker build" >&2; exit 1; }; \
    fi; \
    case "$WEIGHTS" in pretrained|seeded|auto) ;; *) echo "ERROR: WEIGHTS must be pretrained, seeded or auto (got '$WEIGHTS')" >&2; exit 2 ;; esac; \
    mkdir -p models; resolved=$WEIGHTS; \
    if [ "$WEIGHTS" != seeded ]; then \
      if timeout 1800 python3 scripts/export_model.py --weights pretrained --out models/densenet121.pt; then \
        resolved=pretrained; \
      elif [ "$WEIGHTS" = pretrained ]; then \
        echo "ERROR: WEIGHTS=pretrained but the ImageNet weights could not be downloaded (no internet in the build?)" >&2; exit 1; \
      else \
        resolved=seeded; \
        for i in 1 2 3; do echo "##########################################################################" >&2; done; \
        echo "### WARNING: WEIGHTS=auto: the pretrained ImageNet weights could not be downloaded." >&2; \
        echo "### WARNING: this image gets a SEEDED TEST MODEL: deterministic answers that are" >&2; \
        echo "### WARNING: NOT real ImageNet classifications.  Build with network access, or" >&2; \
        echo "### WARNING: --build-arg WEIGHTS=pretrained to make this an error." >&2; \
        for i in 1 2 3; do echo "##########################################################################" >&2; done; \
      fi; \
    fi; \
    if [ "$resolved" = seeded ]; then \
      python3 scripts/export_model.py --weights seeded --seed "$SEED" --calib-dir data \
        --class-index imagenet_class_index.json --no-synthetic-check --out models/densenet121.pt; \
    fi; \
    if [ "$WEIGHTS" = auto ] && [ "$resolved" = seeded ]; then note="seeded (WEIGHTS=auto fell back: pretrained download failed)"; else note=$resolved; fi; \
    printf '%s\n' "$note" > models/WEIGHTS; \
    echo "model: models/densenet121.pt holds $note weights"

# ---------------------------------------------------------------- runtime
FROM ${BASE} AS runtime
ARG WEIGHTS=auto
ARG SEED=0
ARG VERSION=dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="inferd" \
      org.opencontainers.image.description="HTTP image-classification server in C (TorchScript DenseNet-121 via libtorch)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="debian:bookworm-slim" \
      org.inferd.weights="${WEIGHTS}" \
      org.inferd.weights.requested="${WEIGHTS}" \
      org.inferd.seed="${SEED}"
COPY --from=build /rootfs/ /
RUN ldconfig \
 && groupadd --system --gid 10001 inferd \
 && useradd --system --uid 10001 --gid inferd --home-dir /app --no-create-home --shell /usr/sbin/nologin inferd
WORKDIR /app
COPY --from=model /src/config.json /src/imagenet_class_index.json ./
COPY --from=model /src/models/densenet121.pt /src/models/WEIGHTS models/
# The files are root-owned and read-only for the server; it needs no
# writable directory.
USER 10001:10001
EXPOSE 5000
# Readiness, not mere liveness: 200 only once the model is loaded and warm.
# No curl in the image: bash's /dev/tcp speaks the one request needed.  It
# follows INFERD_PORT; if you move the port with --port, set INFERD_PORT
# instead (or override the healthcheck).
HEALTHCHECK --interval=10s --timeout=5s --start-period=120s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${INFERD_PORT:-5000} && printf 'GET /ready HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && IFS= read -r -t 4 status <&3 && [[ $status == *' 200 '* ]]"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/inferd"]
CMD []
