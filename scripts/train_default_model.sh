#!/usr/bin/env bash
# How the shipped models are made (see each MODEL_CARD.md for what each run measured).
# Usage: bash scripts/train_default_model.sh [autoencoder|continue|classifier|gae|evaluate]   (models/toys-32)
#        bash scripts/train_default_model.sh vehicles-autoencoder|vehicles-continue|vehicles-anneal|vehicles-device|
#                                            vehicles-joint|vehicles-classifier|vehicles-gae|vehicles-calibrate|
#                                            vehicles-evaluate
#                                                                                                     (models/vehicles-64)
#
# Stage 1 is long on a CPU. It runs in a work folder ($RUN, outside the model folder) so that the
# shipped model is never overwritten half-way; it checkpoints every 500 steps and RESUME=1 continues
# it. `continue` starts a new run from the shipped weights (when the run state is gone).
# Copy the chosen checkpoint ($RUN/autoencoder/) into models/toys-32/autoencoder/, then re-run
# `gae` and `evaluate`: the GAE must be trained on the encoder it ships with.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh  # the .venv that scripts/setup.sh makes
M=models/toys-32
RUN=${RUN:-runs/toys-32-stage1}
T=${THREADS:-1}
STAGE1=(--steps 60000 --batch-size 32 --lr 2e-4 --save-every 500 --snapshot-every 1000 --threads "$T")

# models/vehicles-64: the 3-D vehicles at 64 px, UNet behind a 2x2 space-to-depth stem (32x32x12), so a
# step costs about what a toys-32 step does. Two data-parallel processes of one thread each, niced so
# that interactive work on the same machine goes first. VRUN holds the run state (checkpoints every 250
# steps, EMA snapshots every 2,000); `vehicles-continue` starts a new run from FROM's weights when the
# run state is gone (a new session). Steps 0-14,250 drew 30% of each batch from t in [500, 1000); from
# 14,250 on, 50% from [100, 500), where a surface's pattern is faint in x_t and z_sem can help draw it.
# DRAWS=K trains on K photographs of every training row (nuisance draws, each rendered once into the cache,
# about 6 min a draw): with one, stage 1 learnt its photographs (MODEL_CARD.md); from step 79,000 on, 4.
VM=models/vehicles-64
VRUN=${VRUN:-runs/vehicles-64-stage1}
VSTAGE1=(--dataset vehicles --resolution 64 --steps 60000 --batch-size 16 --lr 2e-4 --save-every 250
         --snapshot-every 2000 --threads 1)
VCONTINUE=(--out "$VRUN" "${VSTAGE1[@]}" --high-noise-frac 0.5 --high-noise-range 100 500
           --init-from "${FROM:-$VM/autoencoder}" --seed "${SEED:-1}" --nuisance-draws "${DRAWS:-1}")
ddp() { OMP_NUM_THREADS=1 nice -n 10 python -m torch.distributed.run --standalone --nproc_per_node "${NPROC:-2}" -m diffusegae.cli "$@"; }

case "${1:-}" in
  vehicles-autoencoder)
    ddp train autoencoder --out "$VRUN" "${VSTAGE1[@]}" --high-noise-frac 0.3 --set unet_patch=2 ${RESUME:+--resume} ;;
  vehicles-continue)
    ddp train autoencoder "${VCONTINUE[@]}" ;;
  vehicles-anneal)  # the last stretch of stage 1: from FROM's weights, lr 2e-4 decayed to 0 (cosine) over STEPS
    ddp train autoencoder "${VCONTINUE[@]}" --steps "${STEPS:-4000}" --lr-schedule cosine ;;
  vehicles-device)  # the same run on one lent GPU (DEVICE, default cuda): one process, batch 128, STEPS steps
    diffusegae train autoencoder "${VCONTINUE[@]}" --device "${DEVICE:-cuda}" --batch-size 128 --threads 0 \
      --steps "${STEPS:-20000}" ;;
  vehicles-joint)  # stage 3 (PAPER.md section 4: UNet conditioned on D(E(z_sem)), L_DAE + gamma L_GAE) on 4 nuisance
    # draws, into JRUN; FROM: the weights to start from (default the shipped folder; a stage-3 checkpoint such as
    # $VM/stage3-next continues its step count). STEPS: steps of this run. Checkpoints every 250 steps.
    OMP_NUM_THREADS=1 nice -n 10 diffusegae train joint --out "${JRUN:-runs/vehicles-64-joint}" --init-from "${FROM:-$VM}" \
      --dataset vehicles --resolution 64 --nuisance-draws 4 --steps "${STEPS:-20000}" --lr 1e-5 --groups 8 \
      --threads "$T" --save-every 250 --seed "${SEED:-0}" ;;
  vehicles-classifier)  # the evaluation instrument: reads vehicle, surface and angle from a 64 px picture
    # 6,000 steps with half of each batch two renders put together (evaluation/classifier.py): it must not read a
    # mixed surface as one kind (MODEL_CARD.md, "The strict reading")
    diffusegae train classifier --dataset vehicles --resolution 64 --out $VM/eval/classifier.safetensors \
      --steps 6000 --batch-size 64 --threads "$T" ;;
  vehicles-gae)  # on the encoder in $VM/autoencoder (copy the chosen EMA weights there first); 40 dims for the
    # 111 surfaces: with 20, a linear probe read the background chunk 0.87 of the time, with 40 0.93 (gae_recipes.py).
    # lambda_swap: chunks swapped between latents that share no value decode to the recombined render's latent.
    # GAE_SEED: the seed chosen among several by the training split's perplexity matrix (MODEL_CARD.md).
    # Domain verdict from the round trip and every chunk: the round trip alone flagged 0.913 of out-of-domain images.
    # Four nuisance draws of every training row: on one, the GAE learnt its photographs (MODEL_CARD.md).
    diffusegae train gae --out $VM --dataset vehicles --resolution 64 --steps 6000 --batch-size 64 --lr 1e-3 \
      --lr-schedule cosine --ema-decay 0.999 --set hidden=256 --set bottleneck=64 --set dropout=0 --set lambda_align=1 \
      --set "chunk_sizes=[40,40,20]" --set lambda_swap=1 --seed "${GAE_SEED:-0}" --nuisance-draws 4 \
      --domain-score roundtrip+chunks \
      --save-every 1000 --threads "$T" ;;
  vehicles-calibrate)  # writes default_steps and default_sampler to $VM/model.json
    diffusegae calibrate --model $VM --threads "$T" --steps-list 2 3 4 5 6 8 10 12 15 20 --num-images 32 --pairs 32 \
      --out $VM/eval/calibration.json ;;
  vehicles-evaluate)  # at the calibrated steps; 256 pairs: on 64 one pair moves a swap rate by 0.016; --draw 5: the
    # held-out rows photographed under a nuisance draw no stage saw
    S=$(python -c "import json; print(json.load(open('$VM/model.json'))['default_steps'])")
    diffusegae evaluate --model $VM --threads "$T" --steps-list "$S" --recon-images 64 --pairs 256 --edit-steps "$S" \
      --draw 5 --overwrite ;;
  autoencoder)
    diffusegae train autoencoder --out "$RUN" "${STAGE1[@]}" ${RESUME:+--resume} ;;
  continue)  # FROM: stage-1 weights to start from (default: the shipped ones); NPROC: data-parallel processes
    OMP_NUM_THREADS=1 python -m torch.distributed.run --standalone --nproc_per_node "${NPROC:-2}" -m diffusegae.cli \
      train autoencoder --out "$RUN" --init-from "${FROM:-$M/autoencoder}" --high-noise-frac 0.3 --seed "${SEED:-1}" \
      "${STAGE1[@]}" ;;
  classifier)
    diffusegae train classifier --resolution 32 --out $M/eval/classifier.safetensors --steps 1500 --threads "$T" ;;
  gae)
    diffusegae train gae --out $M --steps 6000 --batch-size 64 --lr 1e-3 --lr-schedule cosine --ema-decay 0.999 \
      --set hidden=256 --set bottleneck=64 --set dropout=0 --set lambda_align=1 --save-every 1000 --threads "$T" ;;
  evaluate)
    diffusegae curve --snapshots "$RUN/runs/autoencoder" --classifier $M/eval/classifier.safetensors \
      --num-images 128 --steps 20 --threads "$T" --out $M/eval/random_xT_curve.json
    diffusegae evaluate --model $M --threads "$T" --recon-images 64 --pairs 100 --edit-steps 20 --overwrite ;;  # -> $M/eval/
  *) echo "usage: $0 autoencoder|continue|classifier|gae|evaluate|vehicles-{autoencoder,continue,anneal,joint,classifier,gae,calibrate,evaluate}" >&2
     exit 2 ;;
esac
