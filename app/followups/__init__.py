"""Follow-ups and their participants: the organizer's side."""
