"""Real parts for the tests: throwaway databases and the app under uvicorn."""
