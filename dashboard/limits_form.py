"""The queue-limits form of the Queues page: flow control set from the dashboard.

The same fields, bounds and words as PATCH /api/queues/{name} (docs/flow-control.md).
An empty number means "as QUEUE_LIMITS says", 0 means "no limit".
"""

from django import forms

from tasks import validation


def _count(label: str) -> forms.IntegerField:
    return forms.IntegerField(label=label, required=False, min_value=0, max_value=2**31 - 1,
                              widget=forms.NumberInput(attrs={"min": 0, "class": "narrow"}))


class LimitsForm(forms.Form):
    max_running = _count("Running at once")
    rate_limit = _count("Started per period")
    partition_rate_limit = _count("Started per period, per partition")
    rate_period = forms.FloatField(label="Period (s)", required=False, min_value=0.001, max_value=86400 * 7,
                                   widget=forms.NumberInput(attrs={"min": 0.001, "step": "any", "class": "narrow"}))
    partition_by = forms.CharField(label="Partition (payload path)", required=False, max_length=200)
    partition_max_running = _count("Running at once, per partition")
    ordered = forms.BooleanField(label="Ordered keys", required=False)

    def clean_partition_by(self):
        path = self.cleaned_data["partition_by"].strip()
        if path and not validation.PARTITION_PATH.match(path):
            raise forms.ValidationError("A dotted path into the payload, such as customer.id.")
        return path
