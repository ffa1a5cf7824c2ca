"""The runtime of `manage.py worker`.

- supervisor.py: the Supervisor, a select loop that claims, dispatches, collects
  and heartbeats, and stops gracefully;
- slots.py / slot.py: the execution slots (one child process each) and the one slot;
- slot_boot.py: what the fork server imports so that slots start ready;
- execution.py: running one job's handler in a slot, with its timeout;
- pacing.py: how much to claim and how much to send to a slot at once;
- outcomes.py: finished attempts waiting to be recorded in a batch;
- database_thread.py: the claimer and the recorder, the two threads that talk
  to the database off the loop;
- listener.py: LISTEN/NOTIFY wake-ups; patience.py: waiting out a database outage.
"""
