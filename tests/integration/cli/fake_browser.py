"""A stand-in for the person's web browser, as `$BROWSER` runs it: `fake_browser.py URL`.

It opens the sign-in address and follows the redirects, as a browser does after the person
clicks "Allow" (the sandbox's consent screen allows at once), which brings it back to the app's
loopback server. Python's webbrowser waits for the command to exit before the app starts
listening, so the visit happens in a detached child and this process exits at once.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request


def visit(url: str) -> None:
    # The app's loopback server may need a moment to accept after webbrowser returns.
    for _ in range(50):
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                response.read()
            return
        except OSError:
            time.sleep(0.1)


def main() -> None:
    if sys.argv[1] == "--visit":
        visit(sys.argv[2])
        return
    subprocess.Popen(
        [sys.executable, __file__, "--visit", sys.argv[1]],
        start_new_session=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=os.environ,
    )


if __name__ == "__main__":
    main()
