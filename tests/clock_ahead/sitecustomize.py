"""Moves this Python process's wall clock GRIDOPS_TEST_DAYS_AHEAD days ahead, from interpreter start.

`./dev test` puts this folder on PYTHONPATH for its second pass, so pytest and every Python process
the tests start (the CLI, `gridops devices ingest`) run that far in the future: a test that depends
on today's date fails there. time-machine moves time.time, datetime, date.today, gmtime/localtime
and strftime, and leaves the monotonic clock alone, so waits and time-outs behave. libfaketime
would also move C programs, but it hangs Python's timed lock waits (sem_clockwait on a moved
monotonic clock) and breaks time.sleep when the monotonic clock is left alone (EINVAL).
"""

import os

_days = int(os.environ.get("GRIDOPS_TEST_DAYS_AHEAD") or 0)
if _days:
    import datetime

    import time_machine

    _real = datetime.datetime.now(datetime.UTC)
    time_machine.travel(_real + datetime.timedelta(days=_days), tick=True).start()
