"""Storage optimizer: battery dispatch plans by MILP (HiGHS), published every step on `<prefix>.dispatch`."""
