"""A stable Message-ID per reminder delivery (see ReminderDelivery.message_id).

Three steps because a column default is computed once for all existing rows:
add the column empty, give each existing row its own UUID, then make it
required and unique.
"""

import uuid

from django.db import migrations, models


def fill_message_ids(apps, schema_editor):
    ReminderDelivery = apps.get_model("meetings", "ReminderDelivery")
    rows = list(ReminderDelivery.objects.filter(message_id=None).only("pk"))
    for row in rows:
        row.message_id = uuid.uuid4()
    ReminderDelivery.objects.bulk_update(rows, ["message_id"], batch_size=1000)


class Migration(migrations.Migration):
    dependencies = [
        ("meetings", "0003_reminder_follows_meeting_time"),
    ]

    operations = [
        migrations.AddField(
            model_name="reminderdelivery",
            name="message_id",
            field=models.UUIDField(editable=False, null=True),
        ),
        migrations.RunPython(fill_message_ids, migrations.RunPython.noop, elidable=True),
        migrations.AlterField(
            model_name="reminderdelivery",
            name="message_id",
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True),
        ),
    ]
