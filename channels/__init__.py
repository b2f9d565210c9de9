"""Custom Rasa channels of the helpline."""
