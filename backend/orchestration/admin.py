"""The extensions' parts of the Submission admin page (the closed division's code run)."""
from backend.closed_division.admin import CodeRunInline, reverify_code
from backend.submissions.admin import SubmissionAdmin

SubmissionAdmin.inlines = [*SubmissionAdmin.inlines, CodeRunInline]
SubmissionAdmin.actions = [*SubmissionAdmin.actions, reverify_code]
