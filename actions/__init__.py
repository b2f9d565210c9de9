"""Custom actions of the helpline assistant (run with `rasa run actions`)."""
