"""The threshold sweep: what each candidate firing threshold does to one fixed batch."""
