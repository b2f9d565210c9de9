"""Review and labelling pages for trainers (and supervisors), as one Sanic blueprint.

    from console.review import register
    register(app)                       # after create_app(); pages under /revision

Everything the blueprint needs from the console is in host.py (role, CSRF token, audit).
"""

from console.review.routes import register

__all__ = ["register"]
