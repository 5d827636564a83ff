"""Execution under observation: the sandbox, the engines that run the units, the collector of the probe's records."""
