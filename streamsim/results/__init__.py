"""What a run leaves: metrics, artifacts and the HTML report."""
