"""The files a run leaves and their readers: summary.json/.md/.csv/.html, predictions.jsonl, plots, history, `sseu view`."""
