"""Runtimes: clocks, the simulation kernel, what simulated tasks wait on, and the run API."""
