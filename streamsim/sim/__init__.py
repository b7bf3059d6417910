"""The simulated venue: matching, queue models, fees, book guard, portfolio and order latency."""
