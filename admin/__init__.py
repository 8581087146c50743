"""The staff console: triage, referrals, administration and audit."""
