"""JSON that users send: the API's parser (DRF's) and the admin's JSON form field, both refusing nesting
deeper than ``MAX_DEPTH`` before decoding. Python's decoder recurses per level, so a body of a few
kilobytes (``{"a":{"a":...``) would otherwise end in a RecursionError (a 500) instead of a 400 that says why."""
from __future__ import annotations

import io

from django import forms
from django.core.exceptions import ValidationError
from django.forms.fields import InvalidJSONInput
from rest_framework import parsers
from rest_framework.exceptions import ParseError

from evaluation.submission_io import json_depth

MAX_DEPTH = 64   # the deepest request body any endpoint reads is 3 levels


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        data = stream.read() if stream is not None else b""
        depth = json_depth(data, stop_above=MAX_DEPTH)
        if depth > MAX_DEPTH:
            raise ParseError(f"JSON parse error - nested at least {depth} levels deep; at most {MAX_DEPTH} are allowed")
        return super().parse(io.BytesIO(data), media_type, parser_context)


class BoundedJSONFormField(forms.JSONField):
    """Django's form field for a JSONField (the admin's config boxes), with the same depth bound: too
    deep is a form error, not a RecursionError."""

    @staticmethod
    def _too_deep(value) -> bool:
        return isinstance(value, str) and json_depth(value.encode("utf-8", "surrogatepass"), stop_above=MAX_DEPTH) > MAX_DEPTH

    def to_python(self, value):
        if self._too_deep(value):
            raise ValidationError(f"nested more than {MAX_DEPTH} levels deep", code="invalid")
        return super().to_python(value)

    def bound_data(self, data, initial):   # the form shown again with the error parses what was typed
        return InvalidJSONInput(data) if self._too_deep(data) else super().bound_data(data, initial)

    def has_changed(self, initial, data):
        return True if self._too_deep(data) else super().has_changed(initial, data)
