"""Pure statistics over answers (no database): inter-annotator agreement. The CLI, the app
and the trainers reach it; it reaches nothing but the standard library."""
