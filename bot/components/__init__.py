"""Custom NLU components the Rasa pipeline (config.yml) loads by module path."""
