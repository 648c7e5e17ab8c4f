"""Studies: what the notebooks measure (ablation rows, paper-vs-code differences, applications, CAMs,
embeddings, PCA, distractors, consensus probes, failure cases), as plain functions tests can check without a plot."""
