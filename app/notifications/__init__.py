"""The on-screen inbox: invited, rescheduled, cancelled, responded, assigned, removed."""
