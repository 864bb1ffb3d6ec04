"""Background jobs with status and progress, run by a worker (in the app or `endcap worker`)."""
