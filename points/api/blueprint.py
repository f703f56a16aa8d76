"""The API's Blueprint: flask-smorest's, with a body parser that answers a JSON body nested too deeply for the
decoder ("[" * 1000) as invalid JSON, 400, rather than a RecursionError and a 500."""
import json

import flask_smorest
from webargs.flaskparser import FlaskParser


class Parser(FlaskParser):
    def _raw_load_json(self, req):
        try:
            return super()._raw_load_json(req)
        except RecursionError:
            return self._handle_invalid_json_error(json.JSONDecodeError("nested too deeply", "", 0), req)


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = Parser()
