"""One error format for the whole API: ``{"detail": str, "errors": {field: [reasons]}}``."""
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from evaluation import SubmissionError

from .errors import Rejected


def rejected_response(error: Rejected) -> Response:
    response = Response({"detail": error.sentence, "errors": {error.field: [error.message]}}, status=error.status_code)
    if error.retry_after is not None:
        response["Retry-After"] = str(error.retry_after)
    return response


def exception_handler(exc, context):
    if isinstance(exc, Rejected):
        return rejected_response(exc)
    if isinstance(exc, SubmissionError):
        return Response({"detail": str(exc), "errors": {"file": [str(exc)]}}, status=status.HTTP_400_BAD_REQUEST)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    data = response.data
    if isinstance(data, dict) and "detail" in data:
        response.data = {"detail": str(data["detail"]), "errors": {}}
    elif isinstance(data, dict):
        errors = {field: [str(m) for m in (msgs if isinstance(msgs, list) else [msgs])] for field, msgs in data.items()}
        first_field, first_msgs = next(iter(errors.items()))
        response.data = {"detail": f"{first_field}: {first_msgs[0]}", "errors": errors}
    elif isinstance(data, list):
        response.data = {"detail": "; ".join(str(m) for m in data), "errors": {}}
    return response
