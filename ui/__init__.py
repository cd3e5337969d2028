"""The Gradio web app. The library (assistant/) never imports this package."""

