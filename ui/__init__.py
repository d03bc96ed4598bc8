"""The Gradio shopper front end, built on the `assistant` facade."""
