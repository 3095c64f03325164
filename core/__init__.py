"""The bottom floor: helpers every app may import, importing no app of ours.

Nothing here has models or knows about issues, meetings or agencies: UI and
form helpers, HTTP middleware, export cells, and the small pieces of
plumbing (enqueueing work without depending on the broker) that several apps
share. See STYLE.md, "Apps by domain".
"""
