"""HTML leaderboards rendered from the results store alone (no training needed)."""
