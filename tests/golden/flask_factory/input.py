import flask


def create_app(config=None):
    app = flask.Flask(__name__, instance_relative_config=True)
    if config:
        app.config.update(config)
    return app


def create_bare():
    return flask.Flask(__name__)


def create_parenthesised():
    return (flask.Flask("x"))


class Holder:
    def __init__(self):
        self.app = flask.Flask(__name__)
