"""CodeLupe: public code into a searchable, training-ready corpus and a tuned code model."""
