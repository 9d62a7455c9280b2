"""Renderers of the embedded sample data of each model family."""
