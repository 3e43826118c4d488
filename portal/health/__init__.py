"""Health checks (DESIGN §6): find what stops students reaching their tutor, and fix it.

- ``checks/``: one small module per check: its words (what it means, the help
  article's troubleshooting steps, the fixes that apply) and how it looks (one
  SQL query, or the Zoom calls of ``session_mismatch``);
- ``findings``: the finding lifecycle (open/refresh/resolve, a scan's bulk apply);
- ``scanner``: a scan: Zoom calls on a bounded worker pool behind a per-account
  token bucket, then the database checks, then the lifecycle and the readiness
  snapshot; ``runs``: starting a scan in the background and its progress row;
- ``fixes``: the one-click fixes, each audited and re-checked right after;
- ``dashboard``, ``export``: what the admin pages read, CSV exports;
- ``notices``, ``devices``, ``demo``: the tutor's "please reconnect" notice, the
  Start device record, and the demo institution's broken tutors.
"""
