"""``sampt ui``: a Gradio web page driving :class:`sampt.interactive.Session` (install ``sampt[ui]``)."""
