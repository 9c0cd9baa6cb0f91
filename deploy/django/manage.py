#!/usr/bin/env python3
"""Django's command-line utility for the benchd reference target.

Run it with the venv's interpreter, which benchd makes in
<storage.path>/venv from requirements.txt: venv/bin/python manage.py COMMAND,
from this directory (the first python3 on PATH may be one without Django).
"""
import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings")
    try:
        from django.core.management import execute_from_command_line
    except ImportError as exc:
        raise ImportError(
            "Couldn't import Django. Run manage.py with the venv's python "
            "(<storage.path>/venv/bin/python, made by benchd from requirements.txt)."
        ) from exc
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
