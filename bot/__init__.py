"""What the Rasa server loads that is ours: the server entry point, channels and components."""
