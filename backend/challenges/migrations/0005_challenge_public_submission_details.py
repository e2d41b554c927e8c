from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('challenges', '0004_challenge_annotators'),
    ]

    operations = [
        migrations.AddField(
            model_name='challenge',
            name='public_submission_details',
            field=models.BooleanField(default=False, help_text="Anyone who may see a (non-hidden) leaderboard may open participants' scored submissions from it: scores, environment and curves, never the file, log or code."),
        ),
    ]
