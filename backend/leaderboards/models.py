# Leaderboards are derived from submissions and scores; this app owns no tables.
