"""The local runtime behind `make up` (`gridwatch local up|down|status`): real servers and every workload as
local processes, supervised; the tests, the benchmark and the UI e2e start the same servers through it."""
