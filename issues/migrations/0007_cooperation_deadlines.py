"""Issue 9: a person in charge and a reply deadline per cooperation request, and
the rows of the deadline reminders (issues.deadlines).

Existing requests get the deadline a new one would have had: the default
number of Korean working days after the day they were requested (Asia/Seoul).
The column is added nullable, filled, then made NOT NULL, so no request is
left without a deadline.
"""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import django.db.models.deletion
import django.utils.timezone
import issues.models
import uuid
from django.conf import settings
from django.db import migrations, models


SEOUL = ZoneInfo("Asia/Seoul")


def backfill_reply_by(apps, schema_editor):
    """reply_by = the request's day + COOPERATION_REPLY_WORKING_DAYS working days.

    One UPDATE per day on which something was requested, not one per row.
    """
    from core.workdays import add_working_days

    Cooperation = apps.get_model("issues", "Cooperation")
    days = {
        moment.astimezone(SEOUL).date()
        for moment in Cooperation.objects.filter(reply_by__isnull=True).values_list(
            "requested_at", flat=True
        )
    }
    for day in sorted(days):
        start = datetime.combine(day, time.min, tzinfo=SEOUL)
        Cooperation.objects.filter(
            reply_by__isnull=True,
            requested_at__gte=start,
            requested_at__lt=start + timedelta(days=1),
        ).update(reply_by=add_working_days(day, settings.COOPERATION_REPLY_WORKING_DAYS))


class Migration(migrations.Migration):

    dependencies = [
        ('agencies', '0001_initial'),
        ('issues', '0006_notification_email_outbox'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='DeadlineReminder',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('purpose', models.CharField(choices=[('cooperation_reply', 'Cooperation reply deadline'), ('issue_due', 'Issue due date')], max_length=20)),
                ('step', models.CharField(choices=[('before', 'Before the deadline'), ('on_the_day', 'On the day'), ('overdue', 'Overdue'), ('vice_head', 'Escalated to the vice-head'), ('head', 'Escalated to the head')], max_length=12)),
                ('round', models.PositiveSmallIntegerField(default=0)),
                ('deadline', models.DateField()),
                ('rank', models.SmallIntegerField()),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('due_at', models.DateTimeField()),
                ('sent_at', models.DateTimeField(blank=True, null=True)),
                ('skipped_at', models.DateTimeField(blank=True, null=True)),
                ('claimed_until', models.DateTimeField(blank=True, null=True)),
                ('attempts', models.PositiveSmallIntegerField(default=0)),
                ('next_attempt_at', models.DateTimeField(blank=True, null=True)),
                ('last_error', models.TextField(blank=True)),
                ('message_uuid', models.UUIDField(default=uuid.uuid4, editable=False)),
            ],
            options={
                'verbose_name': 'deadline reminder',
                'verbose_name_plural': 'deadline reminders',
                'ordering': ['-due_at', '-id'],
            },
        ),
        migrations.AddField(
            model_name='cooperation',
            name='assignee',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='assigned_cooperations', to=settings.AUTH_USER_MODEL, verbose_name='Person in charge'),
        ),
        migrations.AddField(
            model_name='cooperation',
            name='reply_by',
            field=models.DateField(null=True, verbose_name='Reply by'),
        ),
        migrations.RunPython(backfill_reply_by, migrations.RunPython.noop),
        migrations.AlterField(
            model_name='cooperation',
            name='reply_by',
            field=models.DateField(default=issues.models.default_reply_by, verbose_name='Reply by'),
        ),
        migrations.AlterField(
            model_name='event',
            name='kind',
            field=models.CharField(choices=[('created', 'Created'), ('changed', 'Changed'), ('status', 'Status changed'), ('cooperation_requested', 'Cooperation requested'), ('cooperation_answered', 'Cooperation answered'), ('cooperation_removed', 'Cooperation withdrawn'), ('comment', 'Comment'), ('attachment', 'Attachment'), ('decision', 'Meeting decision'), ('cooperation_updated', 'Cooperation person or deadline changed'), ('escalated', 'Deadline passed: escalated')], max_length=24),
        ),
        migrations.AddIndex(
            model_name='cooperation',
            index=models.Index(condition=models.Q(('status', 'requested')), fields=['reply_by', 'issue'], name='cooperation_reply_due_idx'),
        ),
        migrations.AddField(
            model_name='deadlinereminder',
            name='cooperation',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='issues.cooperation'),
        ),
        migrations.AddField(
            model_name='deadlinereminder',
            name='issue',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='issues.issue'),
        ),
        migrations.AddField(
            model_name='deadlinereminder',
            name='recipient',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='deadline_reminders', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddIndex(
            model_name='deadlinereminder',
            index=models.Index(condition=models.Q(('sent_at__isnull', True), ('skipped_at__isnull', True)), fields=['due_at', 'id'], name='deadline_reminder_owed_idx'),
        ),
        migrations.AddIndex(
            model_name='deadlinereminder',
            index=models.Index(fields=['issue', 'recipient', 'deadline'], name='deadline_reminder_chain_idx'),
        ),
        migrations.AddConstraint(
            model_name='deadlinereminder',
            constraint=models.UniqueConstraint(condition=models.Q(('purpose', 'cooperation_reply')), fields=('cooperation', 'recipient', 'step', 'round', 'deadline'), name='deadline_reminder_reply_once'),
        ),
        migrations.AddConstraint(
            model_name='deadlinereminder',
            constraint=models.UniqueConstraint(condition=models.Q(('purpose', 'issue_due')), fields=('issue', 'recipient', 'step', 'round', 'deadline'), name='deadline_reminder_due_once'),
        ),
    ]
