"""Task.metadata: the client's own JSON object (document 003), with a partial
GIN index for containment searches that tasks without metadata never pay for."""

import django.contrib.postgres.indexes
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('tasks', '0013_workflows'),
    ]

    operations = [
        migrations.AddField(
            model_name='task',
            name='metadata',
            field=models.JSONField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name='task',
            index=django.contrib.postgres.indexes.GinIndex(condition=models.Q(('metadata__isnull', False)), fields=['metadata'], name='task_metadata_idx', opclasses=['jsonb_path_ops']),
        ),
    ]
