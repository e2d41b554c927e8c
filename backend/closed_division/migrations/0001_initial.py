import backend.closed_division.models
import django.core.validators
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('challenges', '0001_initial'),
        ('submissions', '0001_initial'),
    ]

    operations = [
        migrations.CreateModel(
            name='CodeRun',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('code', models.FileField(upload_to='code/%Y/%m/')),
                ('code_name', models.CharField(max_length=255)),
                ('code_size', models.PositiveBigIntegerField(default=0)),
                ('code_sha256', models.CharField(max_length=64)),
                ('status', models.CharField(choices=[('pending', 'Waiting for the sandbox'), ('running', 'Running'), ('reproduced', 'Reproduced'), ('not_reproduced', 'Not reproduced'), ('failed', 'Failed (platform error)')], db_index=True, default='pending', max_length=16)),
                ('message', models.TextField(blank=True, help_text='Shown to the participant: the first difference, or why the run failed.')),
                ('log', models.TextField(blank=True, help_text='Internal log (platform errors, tracebacks); organizers only.')),
                ('stdout', models.TextField(blank=True)),
                ('stderr', models.TextField(blank=True)),
                ('exit_code', models.IntegerField(blank=True, null=True)),
                ('wall_seconds', models.FloatField(blank=True, null=True)),
                ('cpu_seconds', models.FloatField(blank=True, null=True)),
                ('peak_memory_bytes', models.PositiveBigIntegerField(blank=True, null=True)),
                ('concealed_status', models.CharField(blank=True, choices=[('', 'Not run'), ('pending', 'Waiting for the sandbox'), ('running', 'Running'), ('scored', 'Scored'), ('failed', 'Failed')], default='', max_length=16)),
                ('concealed_message', models.TextField(blank=True, help_text='Shown to the participant when concealed scores are visible.')),
                ('concealed_score', models.FloatField(blank=True, help_text='Mean primary metric over the concealed tasks.', null=True)),
                ('concealed_metrics', models.JSONField(blank=True, default=dict, help_text='Mean of each metric over the concealed tasks.')),
                ('attempts', models.PositiveIntegerField(default=0)),
                ('run_token', models.CharField(blank=True, max_length=32)),
                ('queued_at', models.DateTimeField(blank=True, null=True)),
                ('started_at', models.DateTimeField(blank=True, null=True)),
                ('heartbeat_at', models.DateTimeField(blank=True, null=True)),
                ('finished_at', models.DateTimeField(blank=True, null=True)),
                ('concealed_finished_at', models.DateTimeField(blank=True, null=True)),
                ('submission', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='code_run', to='submissions.submission')),
            ],
        ),
        migrations.CreateModel(
            name='ConcealedTask',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(help_text="Organizers only; participants see 'concealed task N'.", max_length=100)),
                ('order', models.PositiveIntegerField(default=0)),
                ('config', models.JSONField(blank=True, default=dict, help_text="Overrides of the benchmark's config for this task (e.g. other concepts).")),
                ('public_archive', models.FileField(editable=False, upload_to=backend.closed_division.models.concealed_upload_to)),
                ('hidden_archive', models.FileField(blank=True, editable=False, upload_to=backend.closed_division.models.concealed_upload_to)),
                ('public_sha256', models.CharField(editable=False, max_length=64)),
                ('hidden_sha256', models.CharField(blank=True, editable=False, max_length=64)),
                ('size_bytes', models.PositiveBigIntegerField(default=0, editable=False)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('benchmark', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='concealed_tasks', to='challenges.benchmark')),
            ],
            options={
                'ordering': ['benchmark', 'order', 'id'],
            },
        ),
        migrations.CreateModel(
            name='ConcealedRun',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('status', models.CharField(choices=[('scored', 'Scored'), ('program_failed', 'The program failed'), ('invalid_output', 'The output is not a valid submission')], max_length=16)),
                ('message', models.TextField(blank=True)),
                ('scores', models.JSONField(blank=True, default=dict)),
                ('stdout', models.TextField(blank=True)),
                ('stderr', models.TextField(blank=True)),
                ('wall_seconds', models.FloatField(blank=True, null=True)),
                ('cpu_seconds', models.FloatField(blank=True, null=True)),
                ('peak_memory_bytes', models.PositiveBigIntegerField(blank=True, null=True)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('code_run', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='concealed_runs', to='closed_division.coderun')),
                ('task', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='runs', to='closed_division.concealedtask')),
            ],
            options={
                'ordering': ['code_run', 'task__order', 'task_id'],
            },
        ),
        migrations.CreateModel(
            name='SandboxSettings',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('wall_seconds', models.PositiveIntegerField(default=600, help_text="Wall-clock limit of one run of the participant's program (also its CPU-time limit).", validators=[django.core.validators.MinValueValidator(1), django.core.validators.MaxValueValidator(86400)])),
                ('memory_mb', models.PositiveIntegerField(default=4096, help_text='Address space per process, in MiB.', validators=[django.core.validators.MinValueValidator(64)])),
                ('max_processes', models.PositiveIntegerField(default=64, help_text='Processes and threads the program may run at once.', validators=[django.core.validators.MinValueValidator(1), django.core.validators.MaxValueValidator(4096)])),
                ('output_mb', models.PositiveIntegerField(default=64, help_text='Total size of what the program may write to /output.', validators=[django.core.validators.MinValueValidator(1)])),
                ('concealed_scores_visible', models.BooleanField(default=False, help_text="Show the algorithms' scores on the concealed tasks to participants and in a leaderboard column. Organizers always see them.")),
                ('phase', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='sandbox_settings', to='challenges.phase')),
            ],
            options={
                'verbose_name': 'sandbox settings',
                'verbose_name_plural': 'sandbox settings',
            },
        ),
        migrations.AddIndex(
            model_name='coderun',
            index=models.Index(fields=['status', 'heartbeat_at'], name='closed_divi_status_c89295_idx'),
        ),
        migrations.AddConstraint(
            model_name='concealedtask',
            constraint=models.UniqueConstraint(fields=('benchmark', 'name'), name='concealed_task_name_per_benchmark'),
        ),
        migrations.AddConstraint(
            model_name='concealedrun',
            constraint=models.UniqueConstraint(fields=('code_run', 'task'), name='one_concealed_run_per_task'),
        ),
    ]
