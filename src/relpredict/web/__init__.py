"""The web pages of ``relpredict serve``: Jinja2 templates rendered on the server, a little JavaScript.

No build step: the templates, ``static/app.css`` and the two scripts (``workflow.js`` for the Run
Batch Prediction Job dialog, ``job.js`` for the live job page) ship inside the package.
"""
