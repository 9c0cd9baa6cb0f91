#!/usr/bin/env python3
"""Django's command-line utility for the benchd reference target.

Run it with Debian's interpreter, /usr/bin/python3 manage.py COMMAND, from
this directory: the first python3 on PATH may be one without Django.
"""
import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings")
    try:
        from django.core.management import execute_from_command_line
    except ImportError as exc:
        raise ImportError(
            "Couldn't import Django. Install Debian's python3-django "
            "(apt-get install -y python3-django) and run /usr/bin/python3."
        ) from exc
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
