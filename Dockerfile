# One image for the API and the workers of DiffuseGAE Editor (docker-compose.yml runs both).
#
# torch is pinned exactly (torch==2.13.0, as in pyproject.toml). Which build of it is chosen by the
# index it comes from:
#   - default: the PyTorch CPU index -> the small CPU-only wheel (the API image; CPU workers);
#   - GPU workers: --build-arg TORCH_INDEX=https://pypi.org/simple -> PyPI's Linux wheel, which is the
#     CUDA build and brings the CUDA runtime as nvidia-* wheels. The base image therefore needs no CUDA;
#     the host needs the NVIDIA driver and the NVIDIA container toolkit.
FROM python:3.11-slim

ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
RUN pip install --index-url "${TORCH_INDEX}" --extra-index-url https://pypi.org/simple torch==2.13.0

COPY pyproject.toml ./
COPY diffusegae ./diffusegae
COPY backend ./backend
COPY worker ./worker
COPY core ./core
COPY server ./server
COPY frontend ./frontend
COPY models ./models
RUN pip install -e ".[seaweedfs]"

# The shipped models are in the image; the store is DGAE_STORE_URL (S3, docker-compose.yml) or this folder.
ENV DGAE_STORE_DIR=/data/store \
    DGAE_MODEL_DIR=/app/models/vehicles-64 \
    DGAE_MODELS_DIR=/app/models \
    DGAE_FRONTEND_DIR=/app/frontend
RUN useradd --create-home --uid 1000 app && mkdir -p /data/store && chown -R app /data
USER app

EXPOSE 8000
CMD ["diffusegae", "api", "--host", "0.0.0.0", "--port", "8000"]
