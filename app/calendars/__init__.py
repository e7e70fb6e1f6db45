"""iCalendar out: a follow-up as a .ics file, and colleagues' diaries as subscription feeds."""
