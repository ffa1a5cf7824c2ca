"""Request counts per API client and time window, shared by every web process.

One row per client (token user or IP address), reset in place when a new
window starts, so the table stays as small as the number of clients. The
table is UNLOGGED (see the migration): counts need no crash safety.
"""

from django.db import models


class RateWindow(models.Model):
    key = models.CharField(max_length=200, primary_key=True, help_text="scope:client")
    window_start = models.DateTimeField()
    count = models.IntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.key}: {self.count} since {self.window_start:%H:%M:%S}"
