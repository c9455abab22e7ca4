"""Principals: the learners that steer agents (see mermaide.principal.base)."""
