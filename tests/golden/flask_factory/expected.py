import flask
import codetrace.runtime as _codetrace


def create_app(config=None):
    app = flask.Flask(__name__, instance_relative_config=True)
    _codetrace.hooks.flask(app)
    if config:
        app.config.update(config)
    return app


def create_bare():
    return _codetrace.hooks.flask(flask.Flask(__name__))


def create_parenthesised():
    return (_codetrace.hooks.flask(flask.Flask("x")))


class Holder:
    def __init__(self):
        self.app = flask.Flask(__name__)
        _codetrace.hooks.flask(self.app)
