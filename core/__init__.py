"""What the API and the workers share: settings, the Redis records and their claim protocol, the file store,
the Celery app and the typed job specs. Imports neither the API (FastAPI) nor the worker (torch).
"""
