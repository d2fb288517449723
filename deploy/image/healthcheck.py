"""Container health check: exit 0 when the service answers 200 on HEALTHCHECK_URL.

Standard library only, so that it runs in any image built from the project's Containerfile.
"""

import os
import sys
import urllib.error
import urllib.request

URL = os.environ.get("HEALTHCHECK_URL", "http://127.0.0.1:8000/health/ready")


def main() -> int:
    try:
        with urllib.request.urlopen(URL, timeout=4) as response:
            print(f"{URL}: {response.status}")
            return 0 if response.status == 200 else 1
    except urllib.error.HTTPError as exc:
        print(f"{URL}: {exc.code}")
    except OSError as exc:
        print(f"{URL}: {exc}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
