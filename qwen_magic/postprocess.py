"""What happens to a finished answer before it is shown: JSON parsing."""

from __future__ import annotations

import json
import re

from .errors import ServiceError
from .request import Request, Result

_FENCED = re.compile(r"^\s*```(?:json)?\s*\n(.*)\n\s*```\s*$", re.S)


def finalize(result: Result, request: Request) -> Result:
    if request.json_mode and result.error is None and not result.interrupted:
        text = result.text
        match = _FENCED.match(text)
        try:
            result.data = json.loads(match.group(1) if match else text)
        except ValueError as exc:
            result.error = ServiceError(
                "json",
                f"the answer is not valid JSON ({exc})",
                hint="the raw answer is shown above; run the cell again, or lower -t.",
            )
    return result
