"""Staff administration: accounts, roles, second factor, password resets, exposure limits and
the holiday calendar. See docs/staff.md."""
