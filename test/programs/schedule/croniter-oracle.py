# The oracle for test/programs/schedule/croniter.test.ts: Python's croniter computes the next run.
# Reads JSON lines {"expr", "zone", "start"} (start in epoch seconds); writes one line each: the
# next run in epoch seconds, or "error: ..." when croniter refuses the case.
import json
import sys
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from croniter import croniter

for line in sys.stdin:
    case = json.loads(line)
    try:
        start = datetime.fromtimestamp(case["start"], timezone.utc).astimezone(ZoneInfo(case["zone"]))
        following = croniter(case["expr"], start).get_next(datetime)
        print(int(following.timestamp()))
    except Exception as error:  # report, do not stop: one bad case must not hide the rest
        print("error: " + str(error).replace("\n", " "))
