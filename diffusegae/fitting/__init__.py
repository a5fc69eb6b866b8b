"""The stages that fit part of a model folder after training, from measurements (`diffusegae.evaluation` only
measures and reports):

- `steps`: the fewest sampling steps and the sampler whose edits stay within tolerance -> model.json.
- `domain`: the training distribution's statistics and the in-domain thresholds -> MODEL/domain.
"""
