"""Learning: label selection and splits, the model zoo, evaluation, clustering."""
