"""What a file means: facts about SQLAlchemy/FastAPI, the project's sessions, name resolution, flow analysis, fix building blocks. Imports neither the engine nor the frontends."""
