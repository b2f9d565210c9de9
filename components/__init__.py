"""Custom Rasa NLU components for Chilean WhatsApp Spanish."""
