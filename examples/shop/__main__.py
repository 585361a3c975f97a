"""``python -m examples.shop [--host H] [--port P]``: run the example shop's development server."""

from __future__ import annotations

import argparse

from .app import create_app


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the flask-halyk example shop.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args()
    # threaded: a customer's page, the sandbox's payment page in its frame and the widget's
    # script are requests in flight at once.
    create_app().run(host=args.host, port=args.port, threaded=True)


if __name__ == "__main__":
    main()
