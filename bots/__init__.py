"""The python-telegram-bot applications: the victim-facing bot and the staff alert bot.

They run inside the hotline server (hotline/channels/telegram.py builds and starts them); see
docs/telegram.md.
"""

import os

# PTB 22 warns (PTBDeprecationWarning) whenever a duration such as RetryAfter.retry_after is
# read as an int, including inside its own error parsing; opting in to the coming timedelta
# behaviour keeps a 429 a plain RetryAfter (and our test suite treats warnings as errors).
os.environ.setdefault("PTB_TIMEDELTA", "true")
