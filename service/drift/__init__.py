"""Content drift (issue 11): does a live page still say what the author cited?

A link can be `alive` and `drifted`. For alive http links with a citation capture (the Wayback
copy closest to the citation date), the live page and the capture are compared on their main
text:

- `text`: main-text extraction (trafilatura, boilerplate removed) and tokens (pure);
- `score`: TF-IDF cosine, 4-word-shingle containment, title similarity (pure);
- `verdict`: same / drifted / replaced from the scores and thresholds (pure);
- `fetch`: the live page (guarded checker client) and the raw capture (one archive request);
- `sweep`: `drift_sweep(...)`, the job of the daemon and of `linkwatch drift`;
- `job`: the daemon's periodic-job adapter.
"""
