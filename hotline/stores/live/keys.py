"""Every Redis key name, in one place, and the TTLs the live store shares (a channel's own
TTLs live with the channel). The prefix comes from config (storage.redis_prefix).

All keys share one hash tag `{prefix}` so multi-key Lua scripts also work on Redis Cluster.
Nothing here is the truth: SQL is, and `hotline.stores.live.rebuild` restores all of it.
"""

from __future__ import annotations

from dataclasses import dataclass

# The event log keeps about this many entries: enough for a console to catch up after a short
# disconnect; a longer gap gets a "reset" event and reloads from SQL.
EVENT_LOG_MAXLEN = 10_000
# The live-state epoch marker has no TTL: its absence means Redis lost its data and must be
# rebuilt from SQL.
# Periodic-job locks live slightly shorter than the job period, so a crashed holder frees it.
JOB_LOCK_MARGIN_S = 1
# A case's "declined by" set outlives any sensible offer cycle but does not pile up forever.
DECLINED_TTL_S = 6 * 3600


@dataclass(frozen=True)
class Keys:
    """Key names under one prefix."""

    prefix: str

    def _k(self, name: str) -> str:
        return f"{{{self.prefix}}}:{name}"

    @property
    def queue(self) -> str:
        """ZSET conversation id -> rank score (urgency first, then enqueue time)."""
        return self._k("queue")

    @property
    def queue_meta(self) -> str:
        """HASH conversation id -> "channel|language|urgency|enqueued_ms" (listing, matching)."""
        return self._k("queue:meta")

    @property
    def owner(self) -> str:
        """HASH conversation id -> counselor id, for every active conversation."""
        return self._k("owner")

    @property
    def load(self) -> str:
        """HASH counselor id -> active conversations plus outstanding offers (capacity in use)."""
        return self._k("load")

    @property
    def base(self) -> str:
        """The common key start; Lua scripts build per-person key names from it."""
        return self._k("")

    def staff_hash(self, counselor_id: int | str) -> str:
        """HASH of one counselor's routing state: status, shift window, skills, capacity.

        Rewritten from SQL (roster, account) at start, on every roster edit and at shift edges.
        """
        return self._k(f"agent:{counselor_id}")

    @property
    def staff_ids(self) -> str:
        """SET of the ids of staff members that have a routing hash."""
        return self._k("agents")

    @property
    def offers(self) -> str:
        """ZSET conversation id -> offer deadline (ms)."""
        return self._k("offers")

    @property
    def offer(self) -> str:
        """HASH conversation id -> counselor id it is offered to."""
        return self._k("offer")

    def declined(self, conversation_id: str) -> str:
        """SET of counselors who declined or missed an offer of this case (not offered again)."""
        return self._k(f"declined:{conversation_id}")

    @property
    def misses(self) -> str:
        """HASH conversation id -> missed or declined offers so far."""
        return self._k("misses")

    @property
    def coverage(self) -> str:
        """HASH "language|channel" -> last coverage state seen, to alert only on changes."""
        return self._k("coverage")

    @property
    def exposure_capped(self) -> str:
        """SET counselor ids at an exposure cap this shift: no new critical offers."""
        return self._k("exposure_capped")

    @property
    def presence(self) -> str:
        """ZSET counselor id -> last heartbeat (ms); stale entries are pruned on read."""
        return self._k("presence")

    @property
    def events(self) -> str:
        """STREAM of events (ids only, never message text); ids are the console's replay cursor."""
        return self._k("events")

    @property
    def epoch(self) -> str:
        """STRING set after a rebuild from SQL; missing means Redis lost its data."""
        return self._k("epoch")

    def login_throttle(self, scope: str, ref: str) -> str:
        """HASH {n, next} of one console-login throttle key (hotline/domain/throttle.py):
        scope "a" a client address (IPv6 by /64), "u" a login name tried from addresses that
        have failed before, "f" one tried from addresses that have not, "p" a name at an
        address it logged in from, "d" one browser's device cookie (console/throttle.py);
        `ref` holds keyed MACs, never a name or an address."""
        return self._k(f"login:{scope}:{ref}")

    def login_known(self, name_ref: str, address_ref: str) -> str:
        """STRING set when a login name logged in from an address (keyed MACs of both): an
        attempt on that name from there is not held back by guesses from elsewhere."""
        return self._k(f"login:known:{name_ref}:{address_ref}")

    def send_lock(self, conversation_id: str, seq: int) -> str:
        """STRING held while one instance sends one reply, so no two send it at once."""
        return self._k(f"send:{conversation_id}:{seq}")

    def job_lock(self, job: str) -> str:
        """STRING lock so one instance runs a periodic job at a time."""
        return self._k(f"lock:{job}")

    # --- telegram (issue 4). `chat_ref` is a keyed MAC of the chat id: no raw Telegram ids in
    # Redis key names.

    def tg_update(self, update_id: int) -> str:
        """STRING set (NX) when a Telegram update is first handled.

        Telegram re-sends an update it thinks failed, and a webhook retry may race the first
        delivery on another instance: the first SET NX wins, so each update is handled once.
        """
        return self._k(f"tg:update:{update_id}")

    def tg_intake(self, chat_ref: str) -> str:
        """STRING (JSON) the victim bot's intake state for one chat: in Redis, not SQL, because
        an unfinished intake holds nothing worth keeping; if lost, the victim is asked again."""
        return self._k(f"tg:intake:{chat_ref}")

    def tg_sent(self, chat_ref: str) -> str:
        """ZSET message id -> unix time of the messages in one chat that /forget may delete
        (Telegram lets a bot delete messages of a private chat for 48 hours only)."""
        return self._k(f"tg:sent:{chat_ref}")

    def tg_file(self, evidence_id: int) -> str:
        """STRING the sealed Telegram file id of a piece of evidence while the victim decides
        whether we may keep the file: it is fetched again only on their consent."""
        return self._k(f"tg:file:{evidence_id}")

    def tg_alert(self, alert_id: int, step: int) -> str:
        """STRING claim: one instance posts an alert step to Telegram, not every instance."""
        return self._k(f"tg:alert:{alert_id}:{step}")

    def tg_alert_posts(self, alert_id: int) -> str:
        """SET "chat:message" of an alert's Telegram posts, to mark them acknowledged."""
        return self._k(f"tg:alertposts:{alert_id}")

    def tg_desk_alert(self, alert_id: int, step: int) -> str:
        """STRING claim, as tg_alert, for the takedown desk's alerts (ids of another table)."""
        return self._k(f"tg:deskalert:{alert_id}:{step}")

    def tg_desk_alert_posts(self, alert_id: int) -> str:
        """SET "chat:message:lang" of a desk alert's Telegram posts."""
        return self._k(f"tg:deskalertposts:{alert_id}")

    def sms_early_status(self, message_sid: str) -> str:
        """STRING "status|error" of a Twilio delivery report that arrived before we stored the
        part it is about (Twilio can call back before create() has returned to us, and does
        not retry a report we answered): applied as soon as the part is stored."""
        return self._k(f"sms:early:{message_sid}")

    @property
    def roster_version(self) -> str:
        """STRING counter bumped by every roster edit before it writes the edited window: a
        full re-sync that read SQL before the edit must not overwrite that window after it
        (the re-sync writes only if the counter is what it was when it read)."""
        return self._k("roster:version")

    def case_viewed(self, conversation_id: str, staff_id: int) -> str:
        """STRING set (NX) when a staff member first reads a case's transcript: the read is
        audited once per shift, not on every refresh of an open console."""
        return self._k(f"viewed:{conversation_id}:{staff_id}")

    def callback_machine(self, call_sid: str) -> str:
        """STRING set when a call-back reached a voicemail box and we hung up (the victim
        allowed no message): the dial's end then counts as not reached, not as done."""
        return self._k(f"cb:machine:{call_sid}")

    def evidence_reveal(self, token: str) -> str:
        """STRING one-time token for a counselor's audited reveal of an evidence original."""
        return self._k(f"evreveal:{token}")

    # --- flood limits (docs/limits.md). Subjects are keyed HMACs (sender pseudonyms, address
    # tags): no phone number, chat id or client address in a key name.

    def flood(self, bucket: str, subject: str) -> str:
        """STRING a token bucket's theoretical arrival time (ms); expires once it is full."""
        return self._k(f"flood:{bucket}:{subject}")

    def flood_notice(self, subject: str) -> str:
        """STRING set while a refused sender has had the calm answer: it goes out once, not
        once per message of a flood."""
        return self._k(f"flood:notice:{subject}")

    def origin(self, conversation_id: str) -> str:
        """STRING the address tag a web chat case was opened from, so a lead can ban that
        address by the case without anyone seeing it (kept FLOOD_ORIGIN_TTL_S)."""
        return self._k(f"origin:{conversation_id}")

    def case_guesses(self, client: str) -> str:
        """STRING wrong case-number/PIN tries by one client (address tag or sender pseudonym)
        in the current window (CASE_GUESS_WINDOW_S); past the limit the client is refused."""
        return self._k(f"case:guesses:{client}")

    def case_return(self, pseudonym: str) -> str:
        """STRING the case a sender opened with its number and PIN on SMS or Telegram: their
        next new conversation is a return of it (CASE_RETURN_TTL_S)."""
        return self._k(f"case:return:{pseudonym}")

    def chat_evidence(self, ref: str) -> str:
        """STRING the evidence id recorded for one web chat picture (a keyed ref of the chat
        and the page's client id), so a retried POST records it once."""
        return self._k(f"chat:evidence:{ref}")

    def tg_callback(self, chat_ref: str) -> str:
        """STRING a Telegram call-back request under way: "number" while the number is asked
        for, then the number sealed (hotline/channels/telegram/victim_callback.py)."""
        return self._k(f"tg:callback:{chat_ref}")

    def forget_pending(self, pseudonym: str) -> str:
        """STRING set while an SMS sender is asked to confirm erasure (FORGET_CONFIRM_TTL_S)."""
        return self._k(f"forget:pending:{pseudonym}")


# "Who saw a record" is audited once per reader and case within this time (about a shift).
CASE_VIEW_AUDIT_TTL_S = 12 * 3600
# A web chat case's address tag is kept this long: long enough to ban a flood's address by
# one of its cases, short enough that no trace of where a victim wrote from outlives it.
FLOOD_ORIGIN_TTL_S = 48 * 3600
# A client's wrong case-number/PIN tries are counted over this window (services/casecode.py).
CASE_GUESS_WINDOW_S = 3600
# After a successful look-up on SMS or Telegram, the sender's next conversation within this
# is a return of the case.
CASE_RETURN_TTL_S = 24 * 3600
