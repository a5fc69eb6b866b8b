"""The processes that run the service: `diffusegae serve | api | worker` and the rest of the `diffusegae` command."""
