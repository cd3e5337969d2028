"""Training: the plan → TRL recipe, the worker process, and the persistent job queue."""
