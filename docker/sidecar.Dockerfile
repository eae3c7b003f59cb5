# syntax=docker/dockerfile:1
# Image of apps/sidecar, the Python gRPC inference server (PyTorch, transformers, peft).
# Build from the repository root: docker build -f docker/sidecar.Dockerfile .
#
# The default build installs the CPU build of torch. For an NVIDIA GPU, point
# TORCH_INDEX_URL at a CUDA variant of the PyTorch wheel index, for example
#   docker build -f docker/sidecar.Dockerfile \
#     --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128 .
# CUDA wheels bundle their CUDA runtime, so the slim base image serves both; the host
# needs the NVIDIA driver and the NVIDIA Container Toolkit. deploy/compose/gpu.yml
# does this for docker compose.
FROM python:3.11-slim

# TORCH_VERSION must equal the torch pin in apps/sidecar/requirements.txt.
ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu

# The sidecar loads models only from local directories, so the Hugging Face clients
# run offline.
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    NVARC_SIDECAR_ADDRESS=0.0.0.0:50051

WORKDIR /app

# torch comes from the PyTorch index chosen above; the torch line of requirements.txt
# is dropped because PyPI's Linux torch wheels are CUDA builds.
COPY apps/sidecar/requirements.txt apps/sidecar/requirements.txt
RUN pip install --index-url "$TORCH_INDEX_URL" "torch==${TORCH_VERSION}" \
 && grep -v '^torch==' apps/sidecar/requirements.txt > /tmp/requirements-without-torch.txt \
 && pip install -r /tmp/requirements-without-torch.txt

# Python gRPC stubs are generated here the same way scripts/generate.sh does.
COPY libs/contracts/proto libs/contracts/proto
COPY apps/sidecar apps/sidecar
RUN python -m grpc_tools.protoc -I libs/contracts/proto \
      --python_out=apps/sidecar/src/nvarc_sidecar/proto \
      --grpc_python_out=apps/sidecar/src/nvarc_sidecar/proto \
      --pyi_out=apps/sidecar/src/nvarc_sidecar/proto \
      libs/contracts/proto/nvarc/sidecar/v1/sidecar.proto \
 && pip install --no-deps -e apps/sidecar

# models/ is a volume in docker-compose.yml; creating it here as the runtime user lets
# a fresh named volume inherit a writable owner.
# The committed default model is part of the image; a fresh named volume at models/
# starts as a copy of it, and the start command below copies it into an older volume.
COPY models/tiny-arc /opt/nvarc/models/tiny-arc
RUN useradd --create-home --uid 10001 nvarc \
 && mkdir -p models \
 && cp -r /opt/nvarc/models/tiny-arc models/tiny-arc \
 && chown -R nvarc:nvarc models
USER nvarc

EXPOSE 50051
# Puts the committed tiny-arc into the models volume when it lacks it, creates the
# untrained tiny model on first start (seeded, so every volume gets the same weights),
# then serves on NVARC_SIDECAR_ADDRESS.
CMD ["sh", "-c", "test -f models/tiny-arc/config.json || cp -r /opt/nvarc/models/tiny-arc models/ || exit 1; test -f models/tiny-untrained/config.json || python -m nvarc_sidecar.create_model --preset tiny --seed 0 --out models/tiny-untrained || exit 1; exec python -m nvarc_sidecar"]
