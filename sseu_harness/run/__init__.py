"""One process's session: models, mixer and scorer loaded once, answers from the store or streamed from the model."""
